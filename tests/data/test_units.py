"""Each raw Clothing-Fit string parses to the right SI value, or fails with the reason."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from fitting_room.data.units import (
    parse_bust_size,
    parse_cup_index,
    parse_fit,
    parse_height_cm,
    parse_inches_cm,
    parse_number,
    parse_review_date,
    parse_weight_kg,
)


@pytest.mark.parametrize(
    ("text", "cm"),
    [("5' 8\"", 172.72), ("5' 10\"", 177.8), ("4' 11\"", 149.86), ("5ft 6in", 167.64), ("5ft", 152.4)],
)
def test_height_in_feet_and_inches_becomes_cm(text, cm):
    assert parse_height_cm(text) == pytest.approx(cm)


@pytest.mark.parametrize("text", ["tall", "170", "5' 13\"", ""])
def test_height_that_is_not_feet_and_inches_is_rejected(text):
    with pytest.raises(ValueError):
        parse_height_cm(text)


@pytest.mark.parametrize(("text", "kg"), [("137lbs", 62.142), ("95lbs", 43.091), ("62kg", 62.0)])
def test_weight_with_unit_becomes_kg(text, kg):
    assert parse_weight_kg(text) == pytest.approx(kg, abs=1e-3)


@pytest.mark.parametrize("text", ["137", "heavy", "137 stone"])
def test_weight_without_a_known_unit_is_rejected(text):
    with pytest.raises(ValueError, match="expected a weight"):
        parse_weight_kg(text)


@pytest.mark.parametrize(
    ("text", "band_cm", "cup_index", "cup"),
    [
        ("34d", 86.36, 4.0, "d"),
        ("32aa", 81.28, 0.0, "aa"),
        ("40ddd/e", 101.6, 5.5, "ddd/e"),
        ("38d+", 96.52, 4.5, "d+"),
        ("36dd", 91.44, 5.0, "dd"),
        ("34G", 86.36, 7.0, "g"),
    ],
)
def test_bra_size_splits_into_band_cm_cup_index_and_cup(text, band_cm, cup_index, cup):
    band, index, published = parse_bust_size(text)
    assert (band, index, published) == (pytest.approx(band_cm), cup_index, cup)


def test_band_without_cup_has_missing_cup_index():
    band, index, cup = parse_bust_size("36")
    assert band == pytest.approx(91.44) and math.isnan(index) and cup is None


@pytest.mark.parametrize(("cup", "index"), [("dd/e", 5.0), ("ddd/f", 6.0), ("dddd/g", 7.0), ("k", 11.0)])
def test_modcloth_cup_spellings_share_one_index(cup, index):
    assert parse_cup_index(cup) == index


@pytest.mark.parametrize("text", ["34z", "big"])
def test_unknown_cup_or_garbled_bra_size_is_rejected(text):
    with pytest.raises(ValueError):
        parse_bust_size(text)


@pytest.mark.parametrize(("value", "number"), [("28", 28.0), ("38.0", 38.0), (14, 14.0), ("9.00", 9.0)])
def test_numeric_strings_and_numbers_become_float(value, number):
    assert parse_number(value) == number


def test_number_rejects_words_and_booleans():
    with pytest.raises(ValueError, match="not a number"):
        parse_number("twenty")
    with pytest.raises(ValueError, match="boolean"):
        parse_number(True)


@pytest.mark.parametrize(("text", "cm"), [("29", 73.66), ("38.0", 96.52), ("37-39", 96.52)])
def test_inches_become_cm_and_a_range_its_midpoint(text, cm):
    assert parse_inches_cm(text) == pytest.approx(cm)


@pytest.mark.parametrize("text", ["April 20, 2016", "Apr 20, 2016", "2016-04-20"])
def test_review_date_formats_parse_to_the_same_day(text):
    assert parse_review_date(text) == datetime(2016, 4, 20)


def test_fit_labels_are_normalised_and_unknown_ones_rejected():
    assert parse_fit(" Large ") == "large"
    with pytest.raises(ValueError, match="unknown fit label 'snug'"):
        parse_fit("snug")
