"""Start-up time and resident memory of the production stack (`make stack`), as one JSON object.

In a throwaway git + DVC project under a temp folder (never the checkout's own ``.stack/``),
times ``stack_up`` from nothing to every server healthy, per server and in all (``--rounds``
cold starts, each followed by ``stack down --purge``), then the resident memory of every
stack process and its children, idle, after the last start.

    .venv/bin/python benchmarks/stack_startup.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def throwaway_project(work: Path) -> Path:
    """An empty git + DVC project with a local default remote (what `stack up` reconfigures)."""
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    subprocess.run([dvc, "init", "-q"], cwd=work, check=True)
    remote = ["remote", "add", "--local", "-d", "mine", str(work / "remote")]
    subprocess.run([dvc, *remote], cwd=work, check=True)
    return work


def resident_mib(pids: list[int]) -> dict[str, float]:
    """RSS of each pid with its children, MiB (a process counted once)."""
    import psutil

    seen: set[int] = set()
    out: dict[str, float] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            family = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        total = 0
        for member in family:
            if member.pid in seen:
                continue
            seen.add(member.pid)
            with contextlib.suppress(psutil.NoSuchProcess):
                total += member.memory_info().rss
        out[str(pid)] = round(total / 2**20, 1)
    return out


def per_server(statuses: list, began: float) -> dict[str, dict[str, float]]:
    """Seconds each server took to become healthy: servers start one after another, each once
    the one before answers, so a server was ready when the next one's process was created (the
    last one when ``stack_up`` returned)."""
    import psutil

    starts = [psutil.Process(s.pid).create_time() for s in statuses]
    ends = [*starts[1:], time.time()]
    return {"server_s": {s.name: round(e - b, 1) for s, b, e in zip(statuses, starts, ends, strict=True)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="cold starts to time")
    args = parser.parse_args()

    from fitting_room.config import load_config
    from fitting_room.ops.stack import stack_down, stack_status, stack_up

    with tempfile.TemporaryDirectory(prefix="stack-bench-") as tmp:
        project = throwaway_project(Path(tmp))
        cfg = load_config(ROOT / "params.yaml", None, [f"stack.dir={project / '.stack'}"])
        rounds = []
        memory: dict[str, float] = {}
        try:
            for i in range(args.rounds):
                began, start = time.time(), time.perf_counter()
                statuses, _ = stack_up(cfg, project, dict(os.environ))
                total = time.perf_counter() - start
                healthy = [s.name for s in statuses if s.running]
                rounds.append({"total_s": round(total, 1), "healthy": healthy, **per_server(statuses, began)})
                if i == args.rounds - 1:
                    time.sleep(5)  # idle: servers settle after their first requests
                    by_pid = resident_mib([s.pid for s in stack_status(cfg, project) if s.pid])
                    memory = {s.name: by_pid.get(str(s.pid), 0.0) for s in statuses if s.pid}
                else:
                    stack_down(cfg, project, purge=True)
        finally:
            stack_down(cfg, project, purge=True)
    totals = [r["total_s"] for r in rounds]
    print(
        json.dumps(
            {
                "benchmark": "stack_startup",
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "rounds": rounds,
                "startup_s_median": statistics.median(totals),
                "resident_mib": memory,
                "resident_mib_total": round(sum(memory.values()), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
