"""Builders for tiny ingest outputs in the contract format (npz + meta.json, parquet)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fitting_room.config.data import FASHION_MNIST_CLASSES, ValidationConfig

CLASSES = list(FASHION_MNIST_CLASSES)


def make_images(n: int, seed: int, resolution: int = 8, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random, distinct uint8 images with labels cycling through every class."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, resolution, resolution, channels), dtype=np.uint8)
    return images, np.arange(n, dtype=np.int64) % len(CLASSES)


def write_images(folder: Path, train: tuple, test: tuple, resolution: int = 8, channels: int = 1) -> Path:
    """Write ``train.npz``, ``test.npz`` and ``meta.json`` exactly as the ingest stage does."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in (("train", train), ("test", test)):
        np.savez(folder / f"{split}.npz", images=images, labels=labels, class_names=np.array(CLASSES))
    meta = {
        "source": "test",
        "class_names": CLASSES,
        "resolution": resolution,
        "channels": channels,
        "counts": {"train": len(train[1]), "test": len(test[1])},
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def image_config(tmp_path: Path, **images) -> ValidationConfig:
    """Validation config for tiny image sets (thresholds low enough for 100 images)."""
    return ValidationConfig(
        reports_dir=tmp_path / "reports",
        images={"min_train_rows": 100, "min_test_rows": 20, **images},
    )


def make_transactions(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """``n`` plausible transactions with every contract column and dtype."""
    rng = np.random.default_rng(seed)
    rtr = np.arange(n) % 2 == 0
    text = lambda values: pd.array(values, dtype="str")  # noqa: E731
    nan_where = lambda cond, values: np.where(cond, np.nan, values)  # noqa: E731
    return pd.DataFrame(
        {
            "source": text(np.where(rtr, "renttherunway", "modcloth")),
            "row": np.arange(n, dtype=np.int64),
            "user_id": text([f"u{i % 37}" for i in range(n)]),
            "item_id": text([f"i{i % 11}" for i in range(n)]),
            "fit": text(rng.choice(["small", "fit", "large"], size=n)),
            "size": rng.integers(0, 30, size=n).astype(np.float64),
            "rating": nan_where(~rtr, rng.choice([2.0, 4.0, 6.0, 8.0, 10.0], size=n)),
            "quality": nan_where(rtr, rng.integers(1, 6, size=n).astype(np.float64)),
            "rented_for": text(np.where(rtr, "party", None)),
            "body_type": text(np.where(rtr, "hourglass", None)),
            "category": text(["dress"] * n),
            "height_cm": rng.normal(165, 8, size=n),
            "weight_kg": rng.normal(65, 10, size=n),
            "age_years": rng.uniform(18, 70, size=n),
            "bust_band_cm": rng.choice([76.2, 81.3, 86.4, 91.4], size=n),
            "cup_index": rng.integers(0, 8, size=n).astype(np.float64),
            "cup_size": text(["c"] * n),
            "waist_cm": nan_where(rtr, rng.normal(74, 8, size=n)),
            "hips_cm": nan_where(rtr, rng.normal(97, 8, size=n)),
            "bust_cm": nan_where(rtr, rng.normal(91, 8, size=n)),
            "shoe_size": nan_where(rtr, rng.choice([7.0, 8.0, 9.0], size=n)),
            "shoe_width": text(np.where(rtr, None, "average")),
            "length": text(np.where(rtr, None, "just right")),
            "review_date": (pd.to_datetime("2016-04-20") + pd.to_timedelta(np.arange(n), unit="D")).astype(
                "datetime64[ns]"
            ),
        }
    )


def write_transactions(folder: Path, frame: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "transactions.parquet", index=False)
    return folder


def shopper_config(tmp_path: Path, **shoppers) -> ValidationConfig:
    return ValidationConfig(reports_dir=tmp_path / "reports", shoppers={"min_rows": 50, **shoppers})
