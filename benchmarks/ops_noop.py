"""Wall time of an unchanged scheduled run (target < 30 s), as one JSON object.

Runs ``flows/training_pipeline.py`` once to bring everything up to date (skip with
``--no-warmup`` when it already is), then times the same command again: that second run is
what the schedule does when data, params and code did not change. The Prefect API is the
ephemeral one unless ``PREFECT_API_URL`` points at a running server (measure both).

    python benchmarks/ops_noop.py --profile smoke --until validate_shoppers
    PREFECT_API_URL=http://127.0.0.1:4200/api python benchmarks/ops_noop.py --profile smoke --no-warmup
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0


def timed_run(args: list[str]) -> tuple[float, str]:
    """Run the training flow once; returns wall seconds and its last output line."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "flows" / "training_pipeline.py"), "--no-push", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"training flow failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return seconds, (lines[-1] if lines else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--until", help="stop after this stage (e.g. validate_shoppers)")
    parser.add_argument("--no-warmup", action="store_true", help="the pipeline is already up to date")
    parser.add_argument("--repeats", type=int, default=1, help="timed unchanged runs (the median is kept)")
    args = parser.parse_args()
    flow_args = ["--profile", args.profile, *(["--until", args.until] if args.until else [])]
    warmup = None if args.no_warmup else timed_run(flow_args)[0]
    runs = [timed_run(flow_args) for _ in range(args.repeats)]
    seconds = sorted(s for s, _ in runs)[len(runs) // 2]
    print(
        json.dumps(
            {
                "benchmark": "ops_noop",
                "profile": args.profile,
                "until": args.until,
                "prefect_api": os.environ.get("PREFECT_API_URL") or "ephemeral",
                "warmup_s": None if warmup is None else round(warmup, 2),
                "noop_s": round(seconds, 2),
                "noop_runs_s": [round(s, 2) for s, _ in runs],
                "target_s": TARGET_S,
                "passed": seconds < TARGET_S and "no-op" in runs[-1][1],
                "last_line": runs[-1][1],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
