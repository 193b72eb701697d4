"""One training run at a time: a file lock that a crashed run cannot leave behind.

The lock is an advisory ``flock`` on a small file. The kernel drops it when its holder's
process ends for any reason (``kill -9``, out of memory, a reboot), so a killed run never
blocks the next one; the file's JSON body only says who holds (or last held) it, for the
message a second trigger prints and for spotting that a previous run died while holding
it. ``flock`` is local to one machine: across machines, the Prefect deployment's
concurrency limit (``prefect.yaml``) is the guard.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fitting_room.errors import FittingRoomError


class PipelineBusy(FittingRoomError):
    """Another training run holds the lock; the message names its pid, host and start time."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock (or held it last) as recorded in the lock file."""

    pid: int
    host: str
    started_at: float
    owner: str

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))
        return f"pid {self.pid} on {self.host} ({self.owner}) since {since}"


@dataclass(frozen=True)
class Acquired:
    """What :func:`run_lock` found when it took the lock."""

    path: Path
    waited_s: float
    stale: LockHolder | None  # a previous holder that died without releasing (None: clean)


def read_holder(path: str | Path) -> LockHolder | None:
    """The holder recorded in a lock file, or None when empty, missing or unreadable."""
    try:
        doc = json.loads(Path(path).read_text() or "null")
        return LockHolder(int(doc["pid"]), str(doc["host"]), float(doc["started_at"]), str(doc["owner"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


@contextlib.contextmanager
def run_lock(
    path: str | Path, owner: str = "", wait_s: float = 0.0, poll_s: float = 0.5
) -> Iterator[Acquired]:
    """Hold the training lock for the body of the ``with``.

    Args:
        path: lock file; its folder is created.
        owner: who is asking (e.g. the Prefect flow-run id), shown to anyone who has to wait.
        wait_s: how long to wait for a running holder before giving up (0 = do not wait).
        poll_s: seconds between attempts while waiting.

    Yields:
        Where the lock is and whether a crashed run had left a record in it.

    Raises:
        PipelineBusy: another live run holds the lock after ``wait_s`` seconds.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    start = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - start >= wait_s:
                    holder = read_holder(path)
                    who = holder.describe() if holder else "an unknown process"
                    raise PipelineBusy(
                        f"another training run holds {path}: {who}; this trigger exits without running "
                        f"(waited {wait_s:g} s; raise ops.lock.wait_s to queue instead)"
                    ) from None
                time.sleep(poll_s)
        previous = read_holder(path)
        # the body is only ever left behind by a holder that never reached its release
        stale = previous if previous is not None and previous.pid != os.getpid() else None
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": time.time(), "owner": owner}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        try:
            yield Acquired(path, time.monotonic() - start, stale)
        finally:
            os.ftruncate(fd, 0)  # an empty file = released cleanly
    finally:
        os.close(fd)  # closing the descriptor drops the flock


def describe_stale(stale: LockHolder) -> str:
    """The log line for a lock record left by a run that died while holding it."""
    # the kernel had already released its flock, so that process is gone (even if its pid was reused)
    return f"cleared a stale lock of a crashed run: {stale.describe()} ended without releasing it"


def holder_dict(holder: LockHolder | None) -> dict[str, Any] | None:
    """JSON-ready form of a holder (for artifacts and reports)."""
    return None if holder is None else {**holder.__dict__}
