"""The try-on view: deterministic PNGs, sizes that draw tighter or looser, marks that follow the advisor."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from fitting_room.tryon.figure import build_figure
from fitting_room.tryon.garment import KINDS, cut_out, warp_onto
from fitting_room.tryon.view import (
    BACKGROUND,
    SNUG,
    SizeFit,
    ViewConfig,
    ease_at,
    fit_marks,
    fit_note,
    try_on,
)

CFG = ViewConfig()
NEUTRAL = SizeFit(8.0, 0.1, 0.8, 0.1)


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as img:
        return np.asarray(img.convert("RGB"))


def test_the_same_inputs_give_the_same_png_bytes(average, draw_garment):
    fits = [SizeFit(6.0, 0.5, 0.4, 0.1), NEUTRAL]
    first = try_on(average, cut_out(draw_garment()), "dress", fits, 8.0, CFG)
    again = try_on(average, cut_out(draw_garment()), "dress", fits, 8.0, CFG)
    assert [v.png for v in first] == [v.png for v in again]
    image = pixels(first[0].png)
    assert image.shape == (CFG.height, CFG.width, 3)
    assert np.array_equal(image[0, 0], BACKGROUND.astype(np.uint8))  # a light product-photo background


def test_another_size_gives_another_drawing(average, draw_garment):
    views = try_on(average, cut_out(draw_garment()), "dress", [replace(NEUTRAL, size=4.0), NEUTRAL], 8.0, CFG)
    assert views[0].png != views[1].png


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_larger_size_never_draws_a_narrower_garment_at_any_landmark(average, draw_garment, kind):
    figure = build_figure(average)
    cut = cut_out(draw_garment("trouser" if kind == "trouser" else "dress"))
    widths = []
    for size in (0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 14.0, 20.0):
        layer = warp_onto(cut, figure, kind, ease_at(size, 8.0, CFG))
        levels = [figure.rows[name] for name in KINDS[kind] if isinstance(name, str)]
        # the pixel rows whose centres lie on or just inside the garment at each landmark
        rows = [int(np.ceil(levels[0] - 0.5))] + [int(np.floor(y - 0.5)) for y in levels[1:]]
        covered = layer.alpha[np.array(rows) - layer.y0] > 0.5
        # breadth: from the garment's leftmost to its rightmost pixel (trouser legs: both legs)
        widths.append(covered.shape[1] - covered[:, ::-1].argmax(axis=1) - covered.argmax(axis=1))
    widths = np.array(widths)
    assert (np.diff(widths, axis=0) >= -1e-3).all()
    assert (widths[-1] > widths[0] + 2).all()  # and sizes really change the drawing


def test_a_size_likely_too_small_is_marked_snug_and_one_below_the_threshold_is_not(average):
    figure = build_figure(average)
    over = SizeFit(4.0, CFG.threshold + 0.01, 0.5, 1 - CFG.threshold - 0.51)
    under = SizeFit(4.0, CFG.threshold - 0.01, 0.6, 0.41 - CFG.threshold)
    assert {k for _, k in fit_marks("dress", figure.circumference, over, CFG.threshold)} == {"snug"}
    assert fit_marks("dress", figure.circumference, under, CFG.threshold) == []
    loose = SizeFit(14.0, 0.05, 0.4, 0.55)
    assert {k for _, k in fit_marks("dress", figure.circumference, loose, CFG.threshold)} == {"loose"}


def test_snug_goes_where_the_body_is_fullest_and_loose_where_it_is_slimmest(average):
    circ = build_figure(average).circumference  # hips 97 > bust 90 > waist 72
    assert fit_marks("dress", circ, SizeFit(4.0, 0.7, 0.3, 0.0), 0.4) == [("hips", "snug")]
    assert fit_marks("dress", circ, SizeFit(14.0, 0.0, 0.3, 0.7), 0.4) == [("waist", "loose")]
    assert fit_marks("trouser", circ, SizeFit(4.0, 0.7, 0.3, 0.0), 0.4) == [("hips", "snug")]


def test_the_note_carries_the_probabilities_it_came_from():
    fit = SizeFit(6.0, 0.62, 0.30, 0.08)
    note = fit_note(fit, [("bust", "snug"), ("hips", "snug")], 0.4)
    assert note.startswith("Size 6: snug across bust and hips")
    assert all(p in note for p in ("P(small) 62%", "P(fit) 30%", "P(large) 8%", "40%"))
    assert "no fit warning" in fit_note(NEUTRAL, [], 0.4) and "P(fit) 80%" in fit_note(NEUTRAL, [], 0.4)


def test_the_snug_overlay_is_drawn_in_colour_blind_safe_orange(average, draw_garment):
    snug, fine = try_on(
        average, cut_out(draw_garment()), "dress", [SizeFit(4.0, 0.7, 0.3, 0.0), NEUTRAL], 8.0, CFG
    )
    orange = lambda png: (np.abs(pixels(png).astype(int) - SNUG).sum(axis=-1) < 30).sum()  # noqa: E731
    assert orange(snug.png) > 20 and orange(fine.png) == 0
    assert snug.marks == (("hips", "snug"),)


def test_a_garment_not_worn_on_the_body_is_refused(average, draw_garment):
    with pytest.raises(ValueError, match="bag"):
        try_on(average, cut_out(draw_garment()), "bag", [NEUTRAL], 8.0, CFG)
