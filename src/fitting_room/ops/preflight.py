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
import time
import urllib.error
import urllib.request
import uuid

from fitting_room.config.ops import TrackingCheckConfig
from fitting_room.errors import FittingRoomError


class TrackingUnreachable(FittingRoomError):
    """The MLflow tracking server did not answer; the message names the URI and the attempts."""


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
    return TrackingUnreachable(
        f"MLflow tracking server {found['server']} stopped answering ({why}; {found['path']}) after "
        "the bounded retries of ops.tracking_check; the stage did not finish and DVC did not record "
        "it. Restart the server and run again: the stages that finished are skipped."
    )


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
    raise TrackingUnreachable(
        f"MLflow tracking server {uri} is unreachable after {cfg.retries} attempts ({last}); "
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
            f"MLflow server {uri} cannot store artifacts (HTTP {err.code} storing a probe object "
            "under mlflow-artifacts:/fitting-room-preflight/); nothing was run or registered. "
            "Check its --artifacts-destination bucket and credentials (its log names the cause)."
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ArtifactStoreUnavailable(
            f"MLflow server {uri} did not answer a probe upload to its artifact store ({reason}); "
            "nothing was run or registered"
        ) from None
    return True
