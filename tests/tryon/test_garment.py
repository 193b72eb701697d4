"""The garment is cut out of its own image, upscaled smoothly and laid on the figure where it is worn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fitting_room.tryon.figure import build_figure
from fitting_room.tryon.garment import KINDS, cut_out, garment_mask, warp_onto

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def test_the_mask_is_the_garment_not_its_background(draw_garment):
    image = draw_garment("dress")
    assert np.array_equal(garment_mask(image), image > 0)


def test_a_garment_on_a_light_background_is_cut_out_too(draw_garment):
    dark_on_white = 255 - draw_garment("dress")  # the background is whatever the border shows
    assert np.array_equal(garment_mask(dark_on_white), draw_garment("dress") > 0)


def test_the_gap_between_trouser_legs_stays_background(draw_garment):
    image = draw_garment("trouser")
    mask = garment_mask(image)
    assert not mask[22, 13:15].any() and mask[22].sum() > 4


def test_the_upscaled_cut_out_has_no_nearest_neighbour_blocks(draw_garment):
    cut = cut_out(draw_garment("dress"), side=224)
    assert cut.rgb.shape == (224, 224, 3) and cut.alpha.shape == (224, 224)
    # nearest-neighbour x8 repeats every pixel in 8x8 blocks: here neighbours inside a block differ
    inside = cut.alpha > 0.99
    steps = np.abs(np.diff(cut.rgb.astype(int), axis=1)).sum(axis=-1)[inside[:, 1:] & inside[:, :-1]]
    assert (steps > 0).mean() > 0.5
    # and the outline is anti-aliased: partly covered pixels along the edge
    assert ((cut.alpha > 0.05) & (cut.alpha < 0.95)).sum() > 100


@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_garments_are_cut_out_as_one_piece():
    from fitting_room.data.idx import read_idx

    images = read_idx(FASHION_MNIST)[:50]
    for image in images:
        mask = garment_mask(image)
        assert 0.1 < mask.mean() < 0.95
        assert not mask[0].all() and not mask[:, 0].all()  # the border is background


@pytest.mark.parametrize(
    ("kind", "top", "bottom"),
    [("dress", "shoulders", 0.33), ("trouser", "waist", "ankle"), ("t-shirt/top", "shoulders", "hips")],
)
def test_each_kind_covers_its_part_of_the_body(draw_garment, average, kind, top, bottom):
    figure = build_figure(average)
    image = draw_garment("trouser" if kind == "trouser" else "dress")
    layer = warp_onto(cut_out(image), figure, kind, ease_cm=6.0)
    rows = np.flatnonzero((layer.alpha > 0.5).any(axis=1)) + layer.y0
    hem = (
        figure.rows[bottom]
        if isinstance(bottom, str)
        else figure.ground_y - bottom * average.height_cm * figure.px_per_cm
    )
    assert abs(rows[0] - figure.rows[top]) <= 2
    assert abs(rows[-1] - hem) <= 2
    assert KINDS[kind][0] == top
