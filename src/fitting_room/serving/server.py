"""Start and stop a real ``bentoml serve`` process on a loopback port (smoke check, tests, benchmarks)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from fitting_room.errors import FittingRoomError


class ServerFailed(FittingRoomError):
    """``bentoml serve`` exited or did not become ready in time; the message holds its log tail."""


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve_command(
    target: str,
    host: str,
    port: int,
    args: Mapping[str, object] | None = None,
    working_dir: str | None = None,
) -> list[str]:
    """The ``bentoml serve`` command line for a bento tag or a ``module:Service`` target."""
    bentoml = Path(sys.executable).with_name("bentoml")
    cmd = [str(bentoml), "serve", target, "--host", host, "--port", str(port)]
    if working_dir:
        cmd += ["--working-dir", working_dir]
    for key, value in (args or {}).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        cmd += ["--arg", f"{key}={text}"]
    return cmd


def start_server(
    target: str,
    log_path: str | Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    args: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    working_dir: str | None = None,
    startup_timeout_s: float = 180.0,
) -> RunningServer:
    """Start ``bentoml serve`` and wait until ``/readyz`` answers 200.

    Raises:
        ServerFailed: when the process exits or is not ready within ``startup_timeout_s``;
            the process is stopped and its log tail is in the message.
    """
    port = port or free_port(host)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "BENTOML_DO_NOT_TRACK": "true", **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            serve_command(target, host, port, args, working_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,  # its own process group: stopping it stops its workers too
        )
    server = RunningServer(f"http://{host}:{port}", process, log_path)
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(
                f"bentoml serve {target} exited with {process.returncode}:\n{server.log_tail()}"
            )
        if _status(f"{server.url}/readyz") == 200:
            return server
        time.sleep(0.5)
    stop_server(server)
    raise ServerFailed(
        f"bentoml serve {target} not ready after {startup_timeout_s:.0f} s:\n{server.log_tail()}"
    )


def stop_server(server: RunningServer, timeout_s: float = 20.0) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after ``timeout_s``."""
    if server.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(5)


@contextlib.contextmanager
def running_server(target: str, log_path: str | Path, **kwargs: object) -> Iterator[RunningServer]:
    """``start_server`` as a context manager that always stops the server."""
    server = start_server(target, log_path, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        stop_server(server)


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None
