"""Fixtures of the evaluation tier: one smoke generator trained on the shapes dataset per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "gan"))  # gan_builders

from gan_builders import smoke_config, write_shapes_dataset


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """``(images_dir, work_dir)``: shapes data and a generator trained 200 smoke steps (no MLflow)."""
    from fitting_room.gan.train import train_gan

    work = tmp_path_factory.mktemp("trained")
    images = write_shapes_dataset(work / "images")
    cfg = smoke_config(
        work,
        "gan.training.steps=200",
        "gan.training.steps_per_epoch=100",
        "gan.training.monitor_images_per_class=0",
    )
    train_gan(cfg, images, use_mlflow=False)
    return images, work
