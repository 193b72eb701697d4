"""Generation throughput of the served generator: images/s at batch 1 and batch 256.

Times the public ``fitting_room.gan.generate.generate`` (per-seed noise + EMA generator +
uint8 conversion), i.e. what serving calls. Uses ``--model-dir`` when it holds a saved
generator, else an untrained one of the configured architecture (same cost). Prints one JSON object.

    .venv/bin/python benchmarks/gan_generation.py --model-dir models/gan
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def images_per_second(generator, batch: int, seconds: float, num_classes: int) -> float:
    from fitting_room.gan.generate import generate

    rng = np.random.default_rng(0)
    generate(generator, rng.integers(0, num_classes, batch), np.arange(batch))  # warm-up (tracing)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        generate(generator, rng.integers(0, num_classes, batch), rng.integers(0, 2**31, batch))
        done += batch
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("models/gan"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--seconds", type=float, default=10.0, help="timing window per batch size")
    args = parser.parse_args()

    from fitting_room.config import load_config
    from fitting_room.gan.generate import load_generator
    from fitting_room.gan.networks import build_generator

    cfg = load_config(args.params)
    if (args.model_dir / "generator.keras").exists():
        loaded = load_generator(args.model_dir)
        generator, num_classes, trained = loaded, len(loaded.class_names), True
    else:
        num_classes = 10
        generator = build_generator(
            cfg.gan.generator, cfg.data.images.resolution, cfg.data.images.channels, 10
        )
        trained = False
    report = {
        "benchmark": "gan_generation",
        "trained_model": trained,
        "resolution": cfg.data.images.resolution,
        "images_per_second_batch_1": round(images_per_second(generator, 1, args.seconds, num_classes), 1),
        "images_per_second_batch_256": round(images_per_second(generator, 256, args.seconds, num_classes), 1),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
