"""Background server processes of the local stack: start with a log, check, stop by pid.

A process is recorded as its pid plus its start time, so a pid the kernel reused for another
program is never taken for ours and never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from fitting_room.errors import FittingRoomError


class StackError(FittingRoomError):
    """A stack server could not be started, reached or stopped; the message names it."""


@dataclass(frozen=True)
class Proc:
    """One started server: its pid, the kernel's start time of that pid, and its log file."""

    pid: int
    started: float
    log: str

    def as_dict(self) -> dict:
        return asdict(self)


def process(record: Proc | None) -> psutil.Process | None:
    """The live process ``record`` names, or None when it ended (or its pid now belongs to another)."""
    if record is None:
        return None
    try:
        proc = psutil.Process(record.pid)
        if abs(proc.create_time() - record.started) > 1.0 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.NoSuchProcess:
        return None


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now.

    ``SO_REUSEADDR`` as the servers themselves set it: connections of a server that just stopped
    linger in TIME_WAIT on its port, which does not stop it from listening there again.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def spawn(cmd: list[str], log: Path, env: dict[str, str], cwd: Path, user: str | None = None) -> Proc:
    """Start ``cmd`` in its own session (so it outlives this command), output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if user is not None:
        import shutil

        log.touch()
        shutil.chown(log, user, user)
    as_user: dict[str, Any] = {"user": user, "group": user, "extra_groups": []} if user else {}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
            start_new_session=True, **as_user,
        )  # fmt: skip
    return Proc(proc.pid, psutil.Process(proc.pid).create_time(), str(log))


def log_tail(log: str | Path, lines: int = 15) -> str:
    path = Path(log)
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(text[-lines:])


def http_ok(url: str, body: bytes | None = None, timeout_s: float = 3.0) -> bool:
    """True when ``url`` answers 2xx (a POST when ``body`` is given)."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return 200 <= response.status < 300
    except (OSError, urllib.error.HTTPError):
        return False


def wait_until(name: str, check: Callable[[], bool], record: Proc, timeout_s: float) -> None:
    """Poll ``check`` until it passes; fail naming ``name`` when the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if process(record) is None:
            raise StackError(
                f"{name} exited during start-up; its log {record.log} ends:\n{log_tail(record.log)}"
            )
        if time.monotonic() > deadline:
            raise StackError(
                f"{name} did not become healthy within {timeout_s:.0f} s (stack.start_timeout_s); "
                f"its log {record.log} ends:\n{log_tail(record.log)}"
            )
        time.sleep(0.5)


def stop(
    record: Proc, first: signal.Signals = signal.SIGTERM, tree: bool = True, grace_s: float = 30.0
) -> bool:
    """Stop the process ``record`` names and every descendant; False when it was not running.

    ``first`` goes to the process and, with ``tree``, to its descendants too (their own sessions
    included: a Prefect worker starts each flow run in a new one); whatever is left after
    ``grace_s`` gets SIGKILL. Without ``tree`` the process stops its children itself (PostgreSQL's
    postmaster: SIGINT is its fast shutdown).
    """
    proc = process(record)
    if proc is None:
        return False
    members = [proc]
    with contextlib.suppress(psutil.NoSuchProcess):
        members += proc.children(recursive=True)
    for member in members if tree else [proc]:
        with contextlib.suppress(psutil.NoSuchProcess, PermissionError):
            member.send_signal(first)
    _, alive = psutil.wait_procs(members, timeout=grace_s)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess, PermissionError):
            member.kill()
    psutil.wait_procs(alive, timeout=5)
    return True


def user_can_enter(user: str, path: Path) -> bool:
    """Whether ``user`` may open ``path`` (every folder above it traversable)."""
    done = subprocess.run(["test", "-x", str(path)], user=user, group=user, extra_groups=[], check=False)
    return done.returncode == 0


def is_root() -> bool:
    return os.geteuid() == 0
