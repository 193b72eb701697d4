"""Readiness and resident memory of every worker process of one ``bentoml serve``.

With ``serving.workers > 1`` BentoML's arbiter starts that many worker processes on one shared
socket, and whichever worker accepts a connection answers it, ``/readyz`` included: one worker
with its models loaded would answer "ready" for a server whose other workers still load (and
would fail their requests with 503). So each worker keeps a small record -- worker index, pid,
loaded, resident memory -- in a folder shared by the workers of one server, and is ready only
when all ``workers`` records say loaded, each written by a process that is still alive.

The folder is ``<tmp>/fitting-room-serve-<arbiter pid>/``: the arbiter (the ``bentoml serve``
process) is every worker's parent, so its pid names one server and no other. It holds at most
``workers`` files of a few hundred bytes; each worker removes its file when it shuts down and
the last one the folder, and a starting worker removes folders left by servers that died.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fitting_room.files import atomic_write_json

log = logging.getLogger(__name__)

PREFIX = "fitting-room-serve-"
MIB = 1024 * 1024


def resident_mb(pid: int | None = None) -> float | None:
    """Resident memory of a process in MiB (this one by default); None when it is gone."""
    import psutil  # a BentoML dependency

    try:
        return round(psutil.Process(pid).memory_info().rss / MIB, 1)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass
class WorkerRegistry:
    """This worker's record among its server's workers, and the others' as they last wrote them.

    Args:
        workers: worker processes the server runs (``serving.workers``).
        index: this worker's index, 1-based (BentoML's ``server_context.worker_index``).
        server_pid: the pid naming the server; the parent process (the arbiter) by default.
        root: folder holding the per-server folders; the system temp folder by default.
    """

    workers: int
    index: int
    server_pid: int = 0
    root: Path | None = None

    def __post_init__(self) -> None:
        self.server_pid = self.server_pid or os.getppid()
        self.root = Path(self.root or tempfile.gettempdir())
        self.dir = self.root / f"{PREFIX}{self.server_pid}"
        self.path = self.dir / f"worker-{self.index}.json"

    def start(self) -> None:
        """Create the server's folder (private to this user) and record this worker as loading."""
        remove_stale(self.dir.parent)
        with contextlib.suppress(FileExistsError):
            self.dir.mkdir(mode=0o700)
        # another user could have planted the name in a shared /tmp: use only our own real folder
        info = os.lstat(self.dir)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise PermissionError(f"{self.dir}: not a folder owned by this user; refusing to use it")
        self._write(loaded=False)

    def mark_loaded(self) -> float | None:
        """Record that this worker's models are loaded; returns its resident memory (MiB)."""
        return self._write(loaded=True)["rss_mb"]

    def mark_failed(self, error: str) -> None:
        """Record that loading failed (the worker stays not ready)."""
        self._write(loaded=False, error=error)

    def records(self) -> list[dict[str, Any]]:
        """One record per worker index, with live resident memory; ``alive`` False for a dead pid."""
        out = []
        for index in range(1, self.workers + 1):
            try:
                record = json.loads((self.dir / f"worker-{index}.json").read_text())
            except (OSError, ValueError):  # not written yet (still starting) or being replaced
                out.append({"index": index, "pid": None, "loaded": False, "alive": False, "rss_mb": None})
                continue
            alive = pid_alive(int(record["pid"]))
            record |= {"alive": alive, "rss_mb": resident_mb(record["pid"]) if alive else None}
            out.append(record)
        return out

    def all_loaded(self) -> bool:
        """True when every worker's record says loaded and its process lives."""
        return all(r["loaded"] and r["alive"] for r in self.records())

    def close(self) -> None:
        """Remove this worker's record, and the folder once no record is left."""
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # other workers' records still there
            self.dir.rmdir()

    def _write(self, loaded: bool, error: str | None = None) -> dict[str, Any]:
        record = {
            "index": self.index,
            "pid": os.getpid(),
            "loaded": loaded,
            "rss_mb": resident_mb(),
            "error": error,
        }
        atomic_write_json(self.path, record)
        return record


def remove_stale(root: Path) -> list[Path]:
    """Remove this user's per-server folders whose server process is gone; returns them."""
    removed = []
    for path in Path(root).glob(f"{PREFIX}*"):
        pid = path.name.removeprefix(PREFIX)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not pid.isdigit() or info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
            continue
        if not pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
