"""Fixtures of the GAN tier: the synthetic shapes dataset in a temp folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # gan_builders, shared with tests/evaluation

from gan_builders import write_shapes_dataset


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory):
    """Three easy classes (bar, dress, ring) at 28x28x1, written once per session."""
    return write_shapes_dataset(tmp_path_factory.mktemp("shapes") / "images")
