"""GAN quality benchmark: our generator vs the keras.io conditional GAN, same data, same wall time.

Both are trained for ``--minutes`` on the train split, then scored by the evaluation stage's
own code (classifier feature space, ``images_per_class`` per class vs the test split),
beside the real floor (clean train vs test) and the noisy-real reference (train + pixel
noise of ``evaluation.noise_sigma``). Prints one JSON object.

    .venv/bin/python benchmarks/gan_quality.py --minutes 30 --images-dir data/images

``--ours-model-dir models/gan`` scores the generator the pipeline already trained (``make
run``) instead of training a second copy: its wall time, steps and throughput come from its
``generator.json`` (``training``), and the baseline is trained for that same wall time in
this run. It must come from one uninterrupted run (start step 0), or the times would not
compare.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

TARGETS = "fid <= noisy_real_fid, recall >= noisy_real_recall, precision >= 0.7, class_accuracy_ratio >= 0.97"


def train_baseline(images_dir: Path, minutes: float, batch_size: int, seed: int) -> tuple[object, dict]:
    import keras

    from fitting_room.data.images import load_split
    from fitting_room.gan.baseline import BaselineConditionalGAN
    from fitting_room.gan.callbacks import StopConditions
    from fitting_room.gan.data import make_dataset

    keras.utils.set_random_seed(seed)
    split = load_split(images_dir, "train")
    model = BaselineConditionalGAN(split.num_classes, split.images.shape[3])
    model.compile()
    stop = StopConditions(max_steps=10**9, budget_seconds=minutes * 60)
    steps_per_epoch = len(split.images) // batch_size
    start = time.monotonic()
    model.fit(
        make_dataset(split, batch_size, 10000, seed),
        epochs=10**6,
        steps_per_epoch=steps_per_epoch,
        callbacks=[stop],
        verbose=0,
    )
    seconds = time.monotonic() - start
    steps = int(model.step.numpy())
    return model, {"steps": steps, "seconds": seconds, "images_per_second": steps * batch_size / seconds}


def pretrained_run(model_dir: Path) -> dict:
    """Training time, steps and batch size of a generator trained from scratch in one process."""
    meta = json.loads((model_dir / "generator.json").read_text())
    training = meta.get("training") or {}
    if not training.get("seconds"):
        raise SystemExit(f"{model_dir}/generator.json has no training record: retrain it with this version")
    if training.get("start_step", 0) != 0:
        raise SystemExit(
            f"{model_dir} was resumed from step {training['start_step']}: its wall time covers only the "
            "last part of training, so it cannot be compared; train it in one run or drop --ours-model-dir"
        )
    return {
        **training,
        "step": meta["step"],
        "batch_size": meta["config"]["gan"]["training"]["batch_size"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="training wall time per model")
    parser.add_argument("--images-dir", type=Path, default=Path("data/images"))
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/fitting-room-gan-bench"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="params override")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--ours-model-dir",
        type=Path,
        help="score this already trained generator (its generator.json gives time and steps)",
    )
    args = parser.parse_args()

    from fitting_room.config import load_config
    from fitting_room.data.images import load_split
    from fitting_room.evaluation.classifier import classifier_dir, load_or_train_classifier
    from fitting_room.evaluation.scoring import score_sampler
    from fitting_room.gan.generate import generate, load_generator
    from fitting_room.gan.train import train_gan

    work = args.work_dir
    shutil.rmtree(work / "gan", ignore_errors=True)  # a fresh run, never a resumed one
    cfg = load_config(
        args.params,
        overrides=[
            f"gan.model_dir={work / 'gan' / 'model'}",
            f"gan.checkpoint_dir={work / 'gan' / 'checkpoints'}",
            f"gan.training.budget_minutes={args.minutes}",
            "gan.training.steps=100000000",
            f"evaluation.classifier.cache_dir={work / 'classifier'}",
            *args.overrides,
        ],
    )
    ev = cfg.evaluation
    train, test = load_split(args.images_dir, "train"), load_split(args.images_dir, "test")
    t0 = time.monotonic()
    classifier = load_or_train_classifier(args.images_dir, ev.classifier, cfg.seed)
    clf_meta = json.loads((classifier_dir(args.images_dir, ev.classifier) / "classifier.json").read_text())
    classifier_seconds = time.monotonic() - t0

    if args.ours_model_dir:
        generator = load_generator(args.ours_model_dir)
        trained = pretrained_run(args.ours_model_dir)
        minutes = trained["seconds"] / 60
        steps, stopped_by = trained["step"], trained["stopped_by"]
        steady = trained["images_per_second_steady"]
        overall = steps * trained["batch_size"] / trained["seconds"]
    else:
        t0 = time.monotonic()
        result = train_gan(cfg, args.images_dir, use_mlflow=False)
        # overall = steps over the whole stage's wall time (setup, monitor, sample grids included):
        # the conservative figure the throughput ratio uses
        overall = result.step * cfg.gan.training.batch_size / (time.monotonic() - t0)
        minutes, steps, stopped_by = args.minutes, result.step, result.stopped_by
        steady = result.images_per_second
        generator = load_generator(result.model_dir)
    ours = score_sampler(lambda y, s: generate(generator, y, s), classifier, train, test, ev).metrics
    report: dict = {
        "benchmark": "gan_quality",
        "minutes_per_model": round(minutes, 2),
        "ours_from": str(args.ours_model_dir) if args.ours_model_dir else "trained in this run",
        "overrides": args.overrides,
        "images_per_class": ev.images_per_class,
        "real_images": ev.real_images,
        "classifier": {
            "test_accuracy": clf_meta["test_accuracy"],
            "train_seconds": round(classifier_seconds, 1),
        },
        "ours": {
            "steps": steps,
            "stopped_by": stopped_by,
            "images_per_second_steady": round(steady, 1) if steady is not None else None,
            "images_per_second_overall": round(overall, 1),
            **{
                k: ours[k]
                for k in (
                    "fid",
                    "kid",
                    "precision",
                    "recall",
                    "class_accuracy",
                    "class_accuracy_ratio",
                    "diversity_min_ratio",
                )
                if k in ours
            },
        },
        "real_floor": {
            k.removeprefix("real_floor_"): v for k, v in ours.items() if k.startswith("real_floor_")
        },
        "noisy_real": {
            k.removeprefix("noisy_real_"): v for k, v in ours.items() if k.startswith("noisy_real_")
        },
    }
    report["targets"] = {
        "rule": TARGETS,
        "fid": ours["fid"] <= ours["noisy_real_fid"],
        "recall": ours["recall"] >= ours["noisy_real_recall"],
        "precision": ours["precision"] >= 0.7,
        "class_accuracy": ours["class_accuracy_ratio"] >= 0.97,
    }
    if not args.skip_baseline:
        baseline, stats = train_baseline(args.images_dir, minutes, 64, cfg.seed)
        base = score_sampler(
            baseline.sample,
            classifier,
            train,
            test,
            ev.model_copy(
                update={"metrics": ["fid", "kid", "class_accuracy", "precision_recall", "diversity"]}
            ),
        ).metrics
        report["baseline_keras_io"] = {
            **{k: round(v, 1) for k, v in stats.items()},
            **{
                k: base[k]
                for k in ("fid", "kid", "precision", "recall", "class_accuracy", "diversity_min_ratio")
            },
        }
        ratio = overall / stats["images_per_second"]
        report["throughput_ratio_vs_baseline"] = round(ratio, 2) if math.isfinite(ratio) else None
    print(json.dumps(report, default=lambda v: float(v) if isinstance(v, np.floating) else str(v)))


if __name__ == "__main__":
    main()
