"""GAN training across local worker processes: images/s for 1 and 2 workers, and the
communication share of a 2-worker step. Prints one JSON object.

Three runs of ``fitting-room train-gan`` at the same global batch, all in a temp folder:

1. one process (global batch B);
2. two workers on 127.0.0.1 (``train_local_workers``, B/2 rows each, gradients all-reduced);
3. two independent single processes at the same time, B/2 each, no cluster: the same compute
   and the same competition for the CPU as run 2, without the all-reduce.

Steady images/s is the median over logging periods (the first, which traces the step, is in
the median but not decisive). Communication share of a 2-worker step = 1 - (step time of
run 3) / (step time of run 2): what synchronising the workers (gradient, batch-norm and
metric all-reduces, the shared clock, waiting for the slower worker) adds to a step.

On a machine whose two cores are shared by both workers this proves that multi-worker
training runs and what synchronisation costs, not a speed-up: two workers split the same two
cores that one process already uses. A speed-up needs one accelerator (or machine) per worker.

    .venv/bin/python benchmarks/gan_scaling.py                       # default architecture, batch 64
    .venv/bin/python benchmarks/gan_scaling.py --profile smoke --steps 200
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli_args(args: argparse.Namespace, tmp: Path, name: str, *extra: str) -> list[str]:
    out = ["--params", str(args.params)]
    if args.profile:
        out += ["--profile", args.profile]
    for item in [
        f"gan.model_dir={tmp / name / 'gan'}",
        f"gan.checkpoint_dir={tmp / name / 'ckpt'}",
        f"gan.training.steps={args.steps}",
        f"gan.training.steps_per_epoch={args.log_every}",
        f"gan.training.checkpoint_every={args.steps}",
        "gan.training.monitor_images_per_class=0",
        *extra,
    ]:
        out += ["--set", item]
    return out


def train_command(cli: list[str], images: Path, result: Path) -> list[str]:
    train = ["train-gan", "--images-dir", str(images), "--result-json", str(result)]
    return [sys.executable, "-m", "fitting_room", *cli, *train]


def step_seconds(result: dict, batch: int) -> float:
    """Median seconds per step over the logging periods (from their images/s at ``batch``)."""
    import numpy as np

    speeds = [h["images_per_second"] for h in result["history"]]
    return float(np.median([batch / s for s in speeds]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--profile", default=None, help="params profile (default: the base params)")
    parser.add_argument(
        "--images-dir", type=Path, default=None, help="ingested images (default: ingest smoke-size)"
    )
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--log-every", type=int, default=25, help="steps per logging period")
    args = parser.parse_args()

    from fitting_room.config import load_config
    from fitting_room.gan.launch import train_local_workers

    cfg = load_config(args.params, args.profile)
    batch = cfg.gan.training.batch_size
    load_before = os.getloadavg()
    report: dict = {"benchmark": "gan_scaling", "global_batch": batch, "steps": args.steps}
    report["cpu_count"] = os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="gan-scaling-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "TF_CPP_MIN_LOG_LEVEL": "2"}
        env.pop("TF_CONFIG", None)
        images = args.images_dir
        if images is None:  # the smoke-size Fashion-MNIST ingest: the same images the pipeline trains on
            images = tmp / "images"
            subprocess.run(
                [sys.executable, "-m", "fitting_room", "--params", str(args.params), "--profile", "smoke",
                 "--set", f"data.images.out_dir={images}", "ingest", "images"],
                check=True, env=env, stdout=subprocess.DEVNULL,
            )  # fmt: skip

        start = time.monotonic()
        subprocess.run(
            train_command(cli_args(args, tmp, "one"), images, tmp / "one.json"),
            check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        one = json.loads((tmp / "one.json").read_text())
        report["one_process"] = {
            "images_per_second": round(one["images_per_second"], 1),
            "step_ms": round(1000 * step_seconds(one, batch), 2),
            "wall_s": round(time.monotonic() - start, 1),
        }

        start = time.monotonic()
        runs = train_local_workers(
            2, cli_args(args, tmp, "two"), tmp / "two-logs", ["--images-dir", str(images)], env=env
        )
        chief = runs[0].result
        report["two_workers"] = {
            "images_per_second": round(chief["images_per_second"], 1),  # global images (both workers)
            "step_ms": round(1000 * step_seconds(chief, batch), 2),
            "wall_s": round(time.monotonic() - start, 1),
            "identical_state": runs[0].result["state_digest"] == runs[1].result["state_digest"],
        }

        start = time.monotonic()
        half = f"gan.training.batch_size={batch // 2}"
        procs = [
            subprocess.Popen(
                train_command(cli_args(args, tmp, f"alone{i}", half), images, tmp / f"alone{i}.json"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            for i in range(2)
        ]
        if any(p.wait() != 0 for p in procs):
            raise SystemExit("the two independent half-batch runs failed")
        alone = [json.loads((tmp / f"alone{i}.json").read_text()) for i in range(2)]
        # a cluster steps at the pace of its slower worker
        alone_step = max(step_seconds(r, batch // 2) for r in alone)
        report["two_independent_half_batch"] = {
            "step_ms": round(1000 * alone_step, 2),
            "wall_s": round(time.monotonic() - start, 1),
        }
    cluster_step = step_seconds(chief, batch)
    report["communication_share_of_step"] = round(max(0.0, 1 - alone_step / cluster_step), 3)
    speedup = report["two_workers"]["images_per_second"] / one["images_per_second"]
    report["speedup_two_workers"] = round(speedup, 3)
    report["loadavg_before"] = [round(x, 2) for x in load_before]
    report["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    report["note"] = (
        f"{os.cpu_count()} CPU cores shared by both workers (and other jobs: see loadavg): this shows "
        "multi-worker training works and what synchronising a step costs, not a speed-up"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
