"""Fixtures of the validation tier."""

from __future__ import annotations

from pathlib import Path

import pytest
from validation_builders import make_images, write_images


@pytest.fixture
def clean_images(tmp_path: Path) -> Path:
    """100 train and 20 test images, balanced, distinct, no leakage."""
    return write_images(tmp_path / "images", make_images(100, seed=1), make_images(20, seed=2))
