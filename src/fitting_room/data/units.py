"""Parsers for the raw strings of the Clothing-Fit data, into SI units.

Each parser takes one published value (``5' 8"``, ``137lbs``, ``34ddd/e``, ``April 20, 2016``)
and returns plain floats/strings, raising ``ValueError`` with the reason when the value is
not in a known format; the caller adds file, line and field. They are memoised because the
data repeats a few hundred distinct strings across hundreds of thousands of rows, which
makes a plain Python loop fast without pandas per-row operations.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache

CM_PER_INCH = 2.54
KG_PER_LB = 0.45359237

# Cup letters to an ordinal index. Retailers publish both US (dd, ddd) and UK (e, f)
# spellings, often paired ("dd/e"); paired spellings map to their shared index. RTR's
# "ddd/e" pairs letters one step apart, so it sits halfway between them, as "d+" does.
CUP_INDEX = {
    "aa": 0.0,
    "a": 1.0,
    "b": 2.0,
    "c": 3.0,
    "d": 4.0,
    "d+": 4.5,
    "dd": 5.0,
    "e": 5.0,
    "dd/e": 5.0,
    "ddd/e": 5.5,
    "ddd": 6.0,
    "f": 6.0,
    "ddd/f": 6.0,
    "dddd": 7.0,
    "g": 7.0,
    "dddd/g": 7.0,
    "h": 8.0,
    "i": 9.0,
    "j": 10.0,
    "k": 11.0,
}
FIT_LABELS = frozenset({"small", "fit", "large"})

_HEIGHT = re.compile(r"""^\s*(\d+(?:\.\d+)?)\s*(?:'|ft)\s*(?:(\d+(?:\.\d+)?)\s*(?:"|''|in)?)?\s*$""")
_WEIGHT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(lbs?|kg)\s*$")
_BUST = re.compile(r"^\s*(\d{2}(?:\.\d+)?)\s*([a-z][a-z+/]*)?\s*$")
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%Y-%m-%d")


@lru_cache(maxsize=4096)
def parse_number(value: str | int | float) -> float:
    """A number given as int, float or numeric string (``"28"``, ``"38.0"``); ``""`` -> NaN."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError("not a number") from None


@lru_cache(maxsize=4096)
def parse_inches_cm(value: str | int | float) -> float:
    """A length published in inches (ModCloth waist, hips, bust, bra band) -> cm.

    A few shoppers give a range (``"37-39"``); its midpoint is the best single estimate.
    """
    match = _RANGE.match(value) if isinstance(value, str) else None
    if match:
        return (float(match[1]) + float(match[2])) / 2 * CM_PER_INCH
    return parse_number(value) * CM_PER_INCH


@lru_cache(maxsize=4096)
def parse_height_cm(value: str) -> float:
    """Feet and inches (``5' 8"``, ``5ft 6in``, ``5ft``) -> cm."""
    match = _HEIGHT.match(str(value))
    if not match:
        raise ValueError("expected feet and inches like 5' 8\" or 5ft 6in")
    feet, inches = float(match[1]), float(match[2] or 0)
    if inches >= 12:
        raise ValueError(f"{inches:g} inches is not below 12")
    return (feet * 12 + inches) * CM_PER_INCH


@lru_cache(maxsize=4096)
def parse_weight_kg(value: str) -> float:
    """A weight with its unit (``137lbs``, ``62kg``) -> kg."""
    match = _WEIGHT.match(str(value).lower())
    if not match:
        raise ValueError("expected a weight like 137lbs or 62kg")
    number = float(match[1])
    return number if match[2] == "kg" else number * KG_PER_LB


@lru_cache(maxsize=256)
def parse_cup_index(value: str) -> float:
    """A cup size (``d``, ``dd/e``, ``d+``) -> its ordinal index (aa=0 ... k=11)."""
    key = str(value).strip().lower()
    if key not in CUP_INDEX:
        raise ValueError(f"unknown cup size (known: {', '.join(CUP_INDEX)})")
    return CUP_INDEX[key]


@lru_cache(maxsize=4096)
def parse_bust_size(value: str) -> tuple[float, float, str | None]:
    """A bra size (``34d``, ``40ddd/e``, ``38d+``, ``36``) -> (band cm, cup index, cup as published)."""
    match = _BUST.match(str(value).lower())
    if not match:
        raise ValueError("expected a bra size like 34d or 40ddd/e")
    band = float(match[1]) * CM_PER_INCH
    cup = match[2]
    return band, (parse_cup_index(cup) if cup else math.nan), cup


@lru_cache(maxsize=8192)
def parse_review_date(value: str) -> datetime:
    """A review date (``April 20, 2016``; ISO ``2016-04-20`` accepted) -> datetime."""
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError("expected a date like 'April 20, 2016'")


def parse_fit(value: str) -> str:
    """A fit feedback label; only small, fit and large exist in Clothing-Fit."""
    label = str(value).strip().lower()
    if label not in FIT_LABELS:
        raise ValueError(f"unknown fit label {value!r} (expected one of: fit, large, small)")
    return label
