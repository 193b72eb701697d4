"""Checks before a pipeline run starts: is the MLflow tracking server there, and can it store?

A run that starts without its tracking server would train for an hour and then fail to
register, or register half of the bundle. A remote server is probed with bounded retries
first, and MLflow's own HTTP retries are bounded the same way, so an outage ends the run
early with one clear line instead of after minutes of silent retrying. A server that proxies
artifacts (``mlflow server --artifacts-destination s3://…``) is also asked to store and delete a
probe object, so a missing bucket or wrong credentials behind it stop the run before any
stage, instead of failing the first ``log_artifact`` after the training.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import TypeVar

from fitting_room.config.loader import ConfigError
from fitting_room.config.ops import TrackingCheckConfig
from fitting_room.errors import FittingRoomError, ServerUnavailable
from fitting_room.tracking.uris import without_password

T = TypeVar("T")


class TrackingUnreachable(ServerUnavailable):
    """The MLflow tracking server did not answer; the message names the URI and the attempts."""


class PrefectUnreachable(ServerUnavailable):
    """The Prefect server (``PREFECT_API_URL``) did not answer; the message names it."""


class ArtifactStoreUnavailable(FittingRoomError):
    """The MLflow server answers but cannot store artifacts; the message names the server."""


# what MLflow's REST client raises once its bounded retries are spent (mlflow/utils/rest_utils.py)
_LOST = re.compile(r"API request to (?P<server>https?://[^/\s]+)(?P<path>/[^?\s]*)\S* failed with exception")
_WHY = (
    re.compile(r"\[Errno \d+\] (?P<why>[^\"')]+)"),
    re.compile(r"(?P<why>too many \d+ error responses)"),
    re.compile(r"(?P<why>Read timed out)"),
)


def tracking_server_lost(err: BaseException) -> TrackingUnreachable | None:
    """The error to show when an MLflow client call failed because its server stopped answering.

    MLflow's own message is a paragraph of urllib3 internals; this one names the server, the
    call and the cause, and says what to do. None when ``err`` is anything else.
    """
    found = _LOST.search(str(err)) if type(err).__module__.startswith("mlflow") else None
    if found is None:
        return None
    text = str(err)
    why = next((m["why"].strip() for m in (w.search(text) for w in _WHY) if m), text[found.end() :][:160])
    server = without_password(found["server"])
    return TrackingUnreachable(
        f"MLflow tracking server {server} stopped answering ({why}; {found['path']}) after "
        "the bounded retries of ops.tracking_check; the stage did not finish and DVC did not record "
        "it. Restart the server and run again: the stages that finished are skipped."
    )


def prefect_server_lost(err: BaseException) -> PrefectUnreachable | None:
    """The error to show when a Prefect client call could not reach ``PREFECT_API_URL``.

    Prefect's own is httpx's ``ConnectError: [Errno 111] Connection refused`` at the end of a
    traceback, naming no server. None when ``err`` is anything else (including a failure of
    the temporary API a run starts when no server is configured).
    """
    api = os.environ.get("PREFECT_API_URL") or _prefect_setting_url()
    if not api:
        return None
    for cause in _causes(err):
        if type(cause).__module__.startswith("httpx") and _is_transport_error(cause):
            if not _same_server(_request_url(cause), api):
                continue  # some other server's call
            return PrefectUnreachable(
                f"Prefect server {api} is unreachable ({type(cause).__name__}: {cause}); start it "
                "(`make stack`, or `prefect server start`) and run again, or unset PREFECT_API_URL "
                "to run on a temporary local API"
            )
    return None


def user_error(err: BaseException) -> FittingRoomError | None:
    """The one-line error a command ends on for ``err``, or None when ``err`` is a bug.

    Expected failures (:class:`FittingRoomError`) as they are; a server lost in the middle of
    a call (MLflow's urllib3 paragraph, Prefect's httpx traceback) as one line naming it.
    Commands exit with the returned error's ``exit_code``.
    """
    if isinstance(err, FittingRoomError):
        return err
    if isinstance(err, ConfigError):  # bad params, named by the loader: the user's to fix (exit 2)
        return FittingRoomError(str(err))
    return tracking_server_lost(err) or prefect_server_lost(err)


def run_with_one_line_errors(call: Callable[[], T], echo: Callable[[str], None] | None = None) -> T:
    """``call()``; an expected failure ends the process on one ``error:`` line and its exit code.

    What every entry point does (the CLI, the flows run as scripts): 2 for bad input or a
    failed check, 75 (``EX_TEMPFAIL``) for a server that could not be reached or went away.
    Anything else is a bug and keeps its traceback.
    """
    try:
        return call()
    except Exception as err:
        error = user_error(err)
        if error is None:
            raise
        (echo or _to_stderr)(f"error: {error}")
        sys.exit(error.exit_code)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _causes(err: BaseException | None) -> list[BaseException]:
    """``err`` and the exceptions it was raised from or during, innermost last."""
    chain: list[BaseException] = []
    while err is not None and all(err is not seen for seen in chain):
        chain.append(err)
        err = err.__cause__ or err.__context__
    return chain


def _is_transport_error(err: BaseException) -> bool:
    import httpx

    return isinstance(err, httpx.TransportError)


def _request_url(err: BaseException) -> str | None:
    try:
        return str(err.request.url)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when no request was attached
        return None


def _same_server(url: str | None, api: str) -> bool:
    """Whether a request to ``url`` went to the API at ``api`` (None: unknown, assume so).

    Compared as httpx normalises them (host case, default ports), by scheme, host, port and path.
    """
    if url is None:
        return True
    import httpx

    a, b = httpx.URL(url), httpx.URL(api)
    same = (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)
    return same and a.path.startswith(b.path.rstrip("/"))


def _prefect_setting_url() -> str | None:
    """``PREFECT_API_URL`` from Prefect's active profile, when Prefect is loaded."""
    if "prefect.settings" not in sys.modules:
        return None
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def bound_mlflow_retries(cfg: TrackingCheckConfig) -> None:
    """Bound MLflow's client-side HTTP retries and timeout (its defaults retry for minutes)."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(cfg.retries - 1))
    # MLflow reads its backoff factor as a whole number (a "1.0" failed every request to a server)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", str(math.ceil(cfg.backoff_s)))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(1, cfg.timeout_s))))


def check_tracking_server(uri: str, cfg: TrackingCheckConfig) -> int:
    """Probe ``<uri>/health`` of a remote tracking server; local stores need no probe.

    Returns:
        The number of attempts it took (0 for a local store).

    Raises:
        TrackingUnreachable: after ``cfg.retries`` failed attempts, naming the URI and last error.
    """
    if not uri.startswith(("http://", "https://")):
        return 0
    url = uri.rstrip("/") + "/health"
    wait, last = cfg.backoff_s, ""
    for attempt in range(1, cfg.retries + 1):
        try:
            with urllib.request.urlopen(url, timeout=cfg.timeout_s) as response:
                if response.status == 200:
                    return attempt
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code}"
        except (urllib.error.URLError, OSError) as err:
            last = str(getattr(err, "reason", err))
        if attempt < cfg.retries:
            time.sleep(wait)
            wait *= 2
    shown = without_password(uri)
    raise TrackingUnreachable(
        f"MLflow tracking server {shown} is unreachable after {cfg.retries} attempts ({last}); "
        "nothing was run or registered. Start it, or unset MLFLOW_TRACKING_URI / tracking.uri "
        "to use the local store (ops.tracking_check sets the retries)."
    )


def check_artifact_store(uri: str, cfg: TrackingCheckConfig) -> bool:
    """Store and delete a probe object through a remote server's proxied artifact store.

    Returns:
        True when the probe was stored and deleted; False when there is nothing to probe (a
        local store, or a server that does not proxy artifacts: its clients write to the
        store themselves).

    Raises:
        ArtifactStoreUnavailable: the server refused or failed the probe, naming it and the status.
    """
    if not uri.startswith(("http://", "https://")):
        return False
    url = f"{uri.rstrip('/')}/api/2.0/mlflow-artifacts/artifacts/fitting-room-preflight/{uuid.uuid4().hex}"
    shown = without_password(uri)  # what an error names
    try:
        put = urllib.request.Request(url, data=b"preflight", method="PUT")
        with urllib.request.urlopen(put, timeout=cfg.probe_timeout_s):
            pass
        delete = urllib.request.Request(url, method="DELETE")
        with urllib.request.urlopen(delete, timeout=cfg.probe_timeout_s):
            pass
    except urllib.error.HTTPError as err:
        body = err.read(2000).decode("utf-8", "replace")
        if err.code == 404 or "serving is disabled" in body or "--no-serve-artifacts" in body:
            return False  # no proxy (`--no-serve-artifacts`): the clients write to the store themselves
        raise ArtifactStoreUnavailable(
            f"MLflow server {shown} cannot store artifacts (HTTP {err.code} storing a probe object "
            "under mlflow-artifacts:/fitting-room-preflight/); nothing was run or registered. "
            "Check its --artifacts-destination bucket and credentials (its log names the cause)."
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ArtifactStoreUnavailable(
            f"MLflow server {shown} did not answer a probe upload to its artifact store ({reason}); "
            "nothing was run or registered"
        ) from None
    return True
