"""The figure is proportioned from the measurements, measured on what is drawn."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fitting_room.recommender.body import fit_body_model
from fitting_room.tryon.figure import Measurements, build_figure

AVERAGE = Measurements(height_cm=165.0, weight_kg=62.0, bust_cm=90.0, waist_cm=72.0, hips_cm=97.0)


def drawn_height(figure) -> int:
    drawn = np.flatnonzero((figure.coverage > 0.5).any(axis=1))
    return int(drawn[-1] - drawn[0] + 1)


def width_at(figure, landmark: str) -> float:
    """Breadth (px) of the drawn run through the centre column at a landmark's row."""
    row, c = figure.coverage[int(figure.rows[landmark])], int(figure.centre_x)
    left = right = c
    while left > 0 and row[left - 1] > 0.02:
        left -= 1
    while right < len(row) - 1 and row[right + 1] > 0.02:
        right += 1
    return float(row[left : right + 1].sum())


@pytest.mark.parametrize(("short", "tall"), [(150.0, 180.0), (160.0, 168.0), (145.0, 205.0)])
def test_a_taller_shopper_is_drawn_taller_in_proportion(short, tall):
    small = build_figure(replace(AVERAGE, height_cm=short))
    big = build_figure(replace(AVERAGE, height_cm=tall))
    assert drawn_height(big) / drawn_height(small) == pytest.approx(tall / short, rel=0.02)


def test_more_hips_widen_the_hip_line_and_nothing_else_moves():
    before = build_figure(AVERAGE)
    after = build_figure(replace(AVERAGE, hips_cm=AVERAGE.hips_cm + 12))
    assert width_at(after, "hips") > width_at(before, "hips") + 4  # 12 cm of circumference: ~4.6 px
    assert after.rows == before.rows and drawn_height(after) == drawn_height(before)
    waist, knee = int(before.rows["waist"]), int(before.rows["knee"])
    assert np.array_equal(after.coverage[: waist + 1], before.coverage[: waist + 1])  # head to waist
    assert np.array_equal(after.coverage[knee + 1 :], before.coverage[knee + 1 :])  # knees to feet
    for landmark in ("shoulders", "bust", "waist", "knee", "ankle"):
        assert width_at(after, landmark) == width_at(before, landmark)


@pytest.fixture(scope="module")
def shapes() -> dict[str, dict[str, float]]:
    """Bust, waist and hip breadths drawn for each body type, from the same given measurements."""
    model = fit_body_model(pd.DataFrame())  # the priors alone: RentTheRunway has no circumferences
    given = {"height_cm": 168.0, "weight_kg": 64.0, "bust_band_cm": 86.4, "cup_index": 2.0}
    out = {}
    for body_type in ("hourglass", "straight & narrow", "pear", "athletic", "full bust", "petite", "apple"):
        figure = build_figure(model.impute(given, body_type))
        out[body_type] = {name: width_at(figure, name) for name in ("bust", "waist", "hips")}
    return out


def test_a_pear_is_drawn_with_hips_wider_than_her_bust(shapes):
    assert shapes["pear"]["hips"] > shapes["pear"]["bust"] + 2


def test_a_full_bust_is_drawn_with_a_bust_wider_than_her_hips(shapes):
    assert shapes["full bust"]["bust"] > shapes["full bust"]["hips"] + 1


def test_straight_and_narrow_has_the_waist_closest_to_the_hips(shapes):
    ratio = {body_type: s["waist"] / s["hips"] for body_type, s in shapes.items()}
    assert max(ratio, key=ratio.get) == "straight & narrow"
    assert ratio["hourglass"] < ratio["straight & narrow"] - 0.1
