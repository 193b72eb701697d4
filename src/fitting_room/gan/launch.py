"""Start N training workers on this machine, on loopback: a rehearsal of a GPU pool's job.

Each worker is the ordinary ``fitting-room train-gan`` command with ``gan.cluster`` set, as a
pod or a Prefect job would run it. The launcher watches them: when one dies, the others are
given the peer timeout to fail on their own (naming it), then stopped, and the run fails
with an error naming the worker that died. The tests and ``benchmarks/gan_scaling.py`` call
this same function; ``fitting-room train-gan --local-workers N`` is its command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitting_room.errors import FittingRoomError


@dataclass(frozen=True)
class WorkerRun:
    index: int
    address: str
    pid: int
    returncode: int
    log: Path  # stdout and stderr of the worker
    result: dict[str, Any] = field(default_factory=dict)  # its --result-json (empty if it failed)

    def ended(self) -> str:
        if self.returncode < 0:
            return f"was killed by {signal.Signals(-self.returncode).name}"
        return f"exited with code {self.returncode}"

    def last_error(self) -> str:
        """The worker's last ``error:`` line (what the CLI prints for a failed stage), if any."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [line for line in lines if line.startswith("error:")]
        return errors[-1] if errors else ""


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports nobody listens on now: all held open together while the OS picks."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(n)]
        for sock in socks:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in socks]


def worker_command(
    cli_args: Sequence[str], workers: Sequence[str], index: int, result_json: Path
) -> list[str]:
    """The command of worker ``index``: the caller's global options plus its place in the cluster."""
    return [
        sys.executable,
        "-m",
        "fitting_room",
        *cli_args,
        "--set",
        "gan.cluster.workers=[" + ", ".join(f'"{w}"' for w in workers) + "]",
        "--set",
        f"gan.cluster.task_index={index}",
        "train-gan",
        "--result-json",
        str(result_json),
    ]


def train_local_workers(
    n: int,
    cli_args: Sequence[str],
    log_dir: str | Path,
    train_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    grace_s: float = 90.0,
    kill_when: tuple[int, Callable[[], bool]] | None = None,
) -> list[WorkerRun]:
    """Train with ``n`` worker processes on 127.0.0.1 and wait for all of them.

    Args:
        n: worker processes (2 or more).
        cli_args: global ``fitting-room`` options for every worker (``--params``, ``--profile``,
            ``--set``), i.e. the config of the run.
        log_dir: gets ``worker<i>.log`` and ``worker<i>.json`` (the worker's result).
        train_args: extra ``train-gan`` options (e.g. ``--images-dir``), placed after the command.
        env: the workers' environment (default: this process's, without ``TF_CONFIG``).
        grace_s: after one worker dies, how long the others may take to fail on their own
            (their peer timeout) before they are stopped.
        kill_when: ``(worker, condition)``: SIGKILL that worker once ``condition()`` holds
            (polled ten times a second); a fault drill for tests.

    Returns:
        One record per worker, in cluster order, when every worker finished.

    Raises:
        FittingRoomError: naming the first worker that failed, how, and its last error line.
    """
    if n < 2:
        raise FittingRoomError(f"--local-workers {n}: a cluster needs at least 2 workers")
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    workers = [f"127.0.0.1:{port}" for port in free_ports(n)]
    env = {k: v for k, v in (os.environ if env is None else env).items() if k != "TF_CONFIG"}
    procs: list[subprocess.Popen[bytes]] = []
    logs = [log_dir / f"worker{i}.log" for i in range(n)]
    results = [log_dir / f"worker{i}.json" for i in range(n)]
    for path in results:
        path.unlink(missing_ok=True)
    try:
        for i in range(n):
            cmd = [*worker_command(cli_args, workers, i, results[i]), *train_args]
            with open(logs[i], "wb") as log:
                procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env))
        first_failure = _watch(procs, grace_s, kill_when)
    finally:
        for proc in procs:  # nothing outlives the launcher
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    runs = [
        WorkerRun(
            i,
            workers[i],
            proc.pid,
            proc.returncode,
            logs[i],
            json.loads(results[i].read_text()) if results[i].exists() else {},
        )
        for i, proc in enumerate(procs)
    ]
    if first_failure is not None:
        dead = runs[first_failure]
        others = "; ".join(
            f"worker {r.index} {r.ended()}" + (f" ({r.last_error()})" if r.last_error() else "")
            for r in runs
            if r.index != dead.index
        )
        raise FittingRoomError(
            f"training across {n} local workers failed: worker {dead.index} ({dead.address}, pid {dead.pid}) "
            f"{dead.ended()}{' (' + dead.last_error() + ')' if dead.last_error() else ''}; then {others}. "
            f"Logs: {log_dir}. Run again to resume from the chief's last checkpoint."
        )
    return runs


def _watch(
    procs: list[subprocess.Popen[bytes]], grace_s: float, kill_when: tuple[int, Callable[[], bool]] | None
) -> int | None:
    """Wait for every worker; the index of the first to fail (None: all succeeded)."""
    first_failure: int | None = None
    failed_at = 0.0
    while any(proc.poll() is None for proc in procs):
        if kill_when is not None and kill_when[1]():
            if procs[kill_when[0]].poll() is None:
                procs[kill_when[0]].send_signal(signal.SIGKILL)
            kill_when = None
        if first_failure is None:
            for i, proc in enumerate(procs):
                if proc.poll() not in (None, 0):
                    first_failure, failed_at = i, time.monotonic()
                    break
        elif time.monotonic() - failed_at > grace_s:
            break  # the survivors did not fail within their peer timeout: stop them (finally)
        time.sleep(0.1)
    if first_failure is None:
        first_failure = next((i for i, proc in enumerate(procs) if proc.returncode not in (None, 0)), None)
    return first_failure
