"""Tiny builders for GAN and evaluation tests: an easy synthetic garment dataset and configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fitting_room.config import Config, load_config

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"
SHAPE_CLASSES = ("bar", "dress", "ring")


def draw_shape(kind: int, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """One 28x28 grayscale garment stand-in: a horizontal bar, a triangle "dress", or a ring."""
    yy, xx = np.mgrid[:size, :size]
    cy, cx = size / 2 + rng.uniform(-2, 2, 2)
    if kind == 0:
        mask = (abs(yy - cy) < 3) & (abs(xx - cx) < 10)
    elif kind == 1:  # widening towards the hem, like a dress
        half_width = 2 + (yy - (cy - 10)) * 0.45
        mask = (yy > cy - 10) & (yy < cy + 10) & (abs(xx - cx) < half_width)
    else:
        r = np.hypot(yy - cy, xx - cx)
        mask = (r > 6) & (r < 10)
    img = mask * rng.uniform(180, 255) + rng.normal(0, 8, (size, size))
    return np.clip(img, 0, 255).astype(np.uint8)[..., None]


def write_shapes_dataset(
    folder: Path, train_per_class: int = 200, test_per_class: int = 60, seed: int = 0
) -> Path:
    """``train.npz`` / ``test.npz`` following the ingested-images contract, 3 easy classes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        labels = np.repeat(np.arange(len(SHAPE_CLASSES)), n)
        images = np.stack([draw_shape(int(k), rng) for k in labels])
        np.savez(
            folder / f"{split}.npz",
            images=images,
            labels=labels.astype(np.int64),
            class_names=np.array(SHAPE_CLASSES),
        )
    return folder


def smoke_config(tmp: Path, *overrides: str) -> Config:
    """The smoke profile with every output redirected into ``tmp``."""
    return load_config(
        PARAMS,
        profile="smoke",
        overrides=[
            f"data.images.out_dir={tmp / 'images'}",
            f"gan.model_dir={tmp / 'models' / 'gan'}",
            f"gan.checkpoint_dir={tmp / 'models' / 'gan_checkpoints'}",
            f"evaluation.classifier.cache_dir={tmp / 'models' / 'classifier'}",
            f"evaluation.reports_dir={tmp / 'reports' / 'gan'}",
            f"tracking.artifact_root={tmp / 'mlartifacts'}",
            "evaluation.real_images=180",
            "evaluation.classifier.epochs=3",
            *overrides,
        ],
    )
