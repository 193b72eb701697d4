"""The smoke pipeline and its unchanged no-op, embedded vs on the stack, in one run (one JSON object).

Two throwaway copies of this checkout's HEAD (``ops_noop.throwaway_copy``: own DVC cache,
BentoML store and Prefect home; never the checkout's ``data/``, ``models/`` or stores):

- *embedded*: the training flow as `make run` runs it by default (SQLite MLflow in the copy,
  Prefect's ephemeral API), then again unchanged (the no-op);
- *stack*: `stack up` (PostgreSQL, `rclone serve s3`, MLflow server on PostgreSQL with artifacts in S3,
  Prefect server on PostgreSQL, a worker) for the second copy, the same flow command with the
  stack's env file applied (runs, models and artifacts on the servers), then unchanged again,
  then `dvc push` of its outputs to the stack's bucket; `stack down --purge` at the end.

Both runs skip the DVC push inside the flow (timed on its own for the stack). Targets (issue
12): the no-op on the stack under 30 s; the smoke pipeline on the stack within 1.3x the embedded.

    .venv/bin/python benchmarks/stack_pipeline.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ops_noop import throwaway_copy, timed_run

ROOT = Path(__file__).resolve().parents[1]
FLOW = ["--profile", "smoke"]


def stack_env(env_file: Path) -> dict[str, str]:
    """The variables `source .stack/env` sets."""
    out = {}
    for line in env_file.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        out[key] = value.strip("'")
    return out


def main() -> None:
    from fitting_room.config import load_config
    from fitting_room.ops.stack import stack_down, stack_up

    result: dict = {"benchmark": "stack_pipeline", "profile": "smoke", "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="stack-pipeline-") as tmp:
        work = Path(tmp)
        project, env = throwaway_copy(work / "embedded", "smoke")
        result["embedded_s"], _ = timed_run(FLOW, project, env)
        result["embedded_noop_s"], result["embedded_noop_line"] = timed_run(FLOW, project, env)

        project, env = throwaway_copy(work / "stack", "smoke")
        cfg = load_config(ROOT / "params.yaml", None, [f"stack.dir={work / 'stack-state'}"])
        try:
            start = time.perf_counter()
            _, env_file = stack_up(cfg, project, dict(os.environ))
            result["stack_up_s"] = time.perf_counter() - start
            env.update(stack_env(env_file))
            result["stack_s"], _ = timed_run(FLOW, project, env)
            result["stack_noop_s"], result["stack_noop_line"] = timed_run(FLOW, project, env)
            start = time.perf_counter()
            dvc = str(Path(sys.executable).with_name("dvc"))
            subprocess.run([dvc, "push", "-q"], cwd=project, env=env, check=True)
            result["stack_dvc_push_s"] = time.perf_counter() - start
        finally:
            stack_down(cfg, project, purge=True)
    result = {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}
    result["ratio_pipeline"] = round(result["stack_s"] / result["embedded_s"], 2)
    result["targets"] = {
        "stack_noop_under_30_s": result["stack_noop_s"] < 30.0,
        "pipeline_ratio_within_1_3": result["ratio_pipeline"] <= 1.3,
    }
    result["load_average_end"] = os.getloadavg()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
