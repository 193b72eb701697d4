"""Fixtures of the validation tier.

The builders live in ``validation_builders.py`` next to this file; with pytest's importlib
import mode test folders are not on ``sys.path``, so this tier puts its own folder there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from validation_builders import make_images, write_images  # noqa: E402


@pytest.fixture
def clean_images(tmp_path: Path) -> Path:
    """100 train and 20 test images, balanced, distinct, no leakage."""
    return write_images(tmp_path / "images", make_images(100, seed=1), make_images(20, seed=2))
