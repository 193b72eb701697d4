"""Checks before a pipeline run starts: is the MLflow tracking server there?

A run that starts without its tracking server would train for an hour and then fail to
register, or register half of the bundle. A remote server is probed with bounded retries
first, and MLflow's own HTTP retries are bounded the same way, so an outage ends the run
early with one clear line instead of after minutes of silent retrying.
"""

from __future__ import annotations

import math
import os
import time
import urllib.error
import urllib.request

from fitting_room.config.ops import TrackingCheckConfig
from fitting_room.errors import FittingRoomError


class TrackingUnreachable(FittingRoomError):
    """The MLflow tracking server did not answer; the message names the URI and the attempts."""


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
