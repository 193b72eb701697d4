"""Tiny inputs for the try-on tests: bodies and garment images like the generator's (as fixtures)."""

from __future__ import annotations

import numpy as np
import pytest

from fitting_room.tryon.figure import Measurements

AVERAGE = Measurements(height_cm=165.0, weight_kg=62.0, bust_cm=90.0, waist_cm=72.0, hips_cm=97.0)


def garment_image(kind: str = "dress", side: int = 28, background: int = 0) -> np.ndarray:
    """A grey garment silhouette with some shading on a flat background, as Fashion-MNIST draws it."""
    image = np.full((side, side), background, np.uint8)
    rows = np.arange(side)[:, None]
    cols = np.arange(side)[None, :]
    centre = side / 2 - 0.5
    if kind == "trouser":
        leg = (np.abs(np.abs(cols - centre) - 5 - rows / 12) < 3) & (rows > 8)
        shape = ((np.abs(cols - centre) < 7) & (rows >= 2) & (rows <= 9)) | (leg & (rows < side - 2))
    else:  # a dress widening from the shoulders to the hem
        shape = (np.abs(cols - centre) < 4 + rows * 0.3) & (rows >= 2) & (rows < side - 2)
    shade = (120 + 100 * np.cos(cols / 3.0) ** 2).astype(np.uint8)
    return np.where(shape, np.broadcast_to(shade, image.shape), image).astype(np.uint8)


def run_width(row: np.ndarray, centre: float) -> float:
    """Breadth (px) of the drawn run through the centre column: its summed coverage."""
    c = int(centre)
    if row[c] <= 0.02:
        return 0.0
    left = c
    while left > 0 and row[left - 1] > 0.02:
        left -= 1
    right = c
    while right < len(row) - 1 and row[right + 1] > 0.02:
        right += 1
    return float(row[left : right + 1].sum())


@pytest.fixture
def average() -> Measurements:
    return AVERAGE


@pytest.fixture
def draw_garment():
    return garment_image


@pytest.fixture
def breadth():
    return run_width
