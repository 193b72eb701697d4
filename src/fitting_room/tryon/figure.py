"""A front-view body figure proportioned from a shopper's measurements.

Heights of the landmarks are fractions of body height after Drillis & Contini (1966), as
reproduced in D. A. Winter, *Biomechanics and Motor Control of Human Movement* (4th ed.,
2009, Fig. 4.1): chin 0.870 H, shoulder 0.818 H, chest 0.720 H, elbow (the natural waist)
0.630 H, hip joint 0.530 H, knee 0.285 H, ankle 0.039 H; shoulder breadth 0.259 H. Widths of
the torso come from the shopper's circumferences: a body section is drawn as an ellipse whose
depth is a fixed share of its breadth, so its front-view breadth is ``2 C / (pi (1 + r))``.

The figure is a set of horizontal spans per pixel row (torso, legs, arms, head), rasterised
with exact horizontal coverage: no randomness and no library drawing calls, so the same
measurements always give the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# landmark heights as fractions of body height (Drillis & Contini 1966, via Winter 2009)
LEVELS = {"shoulders": 0.818, "bust": 0.720, "waist": 0.630, "hips": 0.530, "knee": 0.285, "ankle": 0.039}
CHIN, NECK_BASE, CROTCH = 0.870, 0.845, 0.470  # crotch: our choice between hip joint and knee
SHOULDER_BREADTH = 0.259  # x height (Drillis & Contini)
# depth / breadth of the elliptical body section at each circumference (our approximation)
DEPTH_RATIO = {"bust": 0.78, "waist": 0.78, "hips": 0.70}
# prior shape of body types the measurements cannot show (shoulder breadth only)
SHOULDER_FACTOR = {"athletic": 1.06, "petite": 0.98, "pear": 0.97, "full bust": 1.02}
REFERENCE_BMI = 22.0


@dataclass(frozen=True)
class Measurements:
    """A complete body (cm, kg); ``imputed`` names the values that were estimated, not given."""

    height_cm: float
    weight_kg: float
    bust_cm: float
    waist_cm: float
    hips_cm: float
    body_type: str | None = None
    imputed: tuple[str, ...] = ()

    @property
    def bmi(self) -> float:
        return self.weight_kg / (self.height_cm / 100.0) ** 2


@dataclass(frozen=True)
class Figure:
    """The drawn body: per-landmark row and half-width (px), and its coverage (H, W) in [0, 1]."""

    measurements: Measurements
    centre_x: float
    ground_y: float
    px_per_cm: float
    rows: dict[str, float]  # landmark -> y (pixels from the top)
    half_widths: dict[str, float]  # landmark -> half of the drawn breadth (px)
    coverage: np.ndarray = field(repr=False)
    circumference: dict[str, float] = field(default_factory=dict)  # landmark -> cm (for ease)


def breadth_cm(circumference_cm: float, depth_ratio: float) -> float:
    """Front-view breadth of an elliptical section of a given circumference (cm)."""
    return 2.0 * circumference_cm / (math.pi * (1.0 + depth_ratio))


def build_figure(m: Measurements, width: int = 192, height: int = 288, px_per_cm: float = 1.3) -> Figure:
    """Landmarks and coverage of the figure of ``m`` on a ``width`` x ``height`` canvas.

    The scale is fixed (``px_per_cm``), so figures of different shoppers compare in size: a
    shopper 10 % taller is drawn 10 % taller. Only a shopper too tall for the canvas at that
    scale (above ~209 cm on the default canvas) is drawn smaller, to fit. The feet stand 6 px
    above the bottom edge.
    """
    px_per_cm = min(px_per_cm, (height - 12.0) / m.height_cm)
    h = m.height_cm * px_per_cm
    ground, cx = height - 6.0, width / 2.0
    scale = (m.bmi / REFERENCE_BMI) ** 0.25  # heavier bodies: broader shoulders and limbs
    cm = px_per_cm

    def y(level: float) -> float:
        return ground - level * h

    half = {name: breadth_cm(getattr(m, f"{name}_cm"), DEPTH_RATIO[name]) * cm / 2 for name in DEPTH_RATIO}
    half["shoulders"] = SHOULDER_BREADTH * h / 2 * scale * SHOULDER_FACTOR.get(m.body_type or "", 1.0)
    knee_half, ankle_half = 0.030 * h * scale**2, 0.016 * h * scale
    half["knee"] = knee_half + 0.012 * h + knee_half  # outer edge of the legs at the knee
    half["ankle"] = ankle_half + 0.014 * h + ankle_half
    rows = {name: y(level) for name, level in LEVELS.items()}
    circ = {"shoulders": m.bust_cm, "bust": m.bust_cm, "waist": m.waist_cm, "hips": m.hips_cm}
    circ |= {"knee": m.hips_cm, "ankle": m.hips_cm}

    ys = np.arange(height) + 0.5
    spans = []  # (left, right) per row, NaN where absent
    neck = 0.028 * h
    torso_y = [y(NECK_BASE), rows["shoulders"], rows["bust"], rows["waist"], rows["hips"], y(CROTCH)]
    torso_w = [neck, half["shoulders"], half["bust"], half["waist"], half["hips"], half["hips"] * 0.96]
    torso = _smooth(ys, torso_y, torso_w)
    neck_rows = (ys >= y(CHIN) - 0.01 * h) & (ys < y(NECK_BASE))
    head_c, head_a, head_b = y(0.935), 0.052 * h, 0.066 * h  # head: ellipse from chin to crown
    inside = np.clip(1 - ((ys - head_c) / head_b) ** 2, 0, None)
    # torso, neck and head share the centre line: one span per row, the widest of the three
    middle = np.fmax(
        np.fmax(torso, np.where(neck_rows, neck, np.nan)),
        np.where(inside > 0, head_a * np.sqrt(inside), np.nan),
    )
    spans.append(_centred(cx, middle))
    # legs: each from the crotch (filling the hips) to the ankle, apart by a small gap
    leg_y = [y(CROTCH), rows["knee"], rows["ankle"], ground]
    thigh = half["hips"] * 0.48
    leg_half = np.interp(ys, leg_y, [thigh, knee_half, ankle_half, ankle_half * 1.4])
    foot = half["ankle"] - ankle_half
    centre = np.interp(ys, leg_y, [half["hips"] * 0.96 - thigh, half["knee"] - knee_half, foot, foot])
    legs = (ys >= y(CROTCH)) & (ys <= ground)
    for sign in (-1, 1):
        c = cx + sign * centre
        spans.append(
            np.column_stack([np.where(legs, c - leg_half, np.nan), np.where(legs, c + leg_half, np.nan)])
        )
    # arms hang in a slight A-pose from the shoulder points (they depend on shoulders only)
    top, wrist, hand = y(0.805), y(0.485), y(0.40)
    t = np.clip((ys - top) / (wrist - top), 0, None)
    arm_c = half["shoulders"] + 0.085 * h * t
    arm_half = np.where(ys <= wrist, 0.027 * h * scale - 0.010 * h * np.clip(t, 0, 1), 0.022 * h)
    arm_half = np.where(
        ys > wrist, 0.022 * h * np.sqrt(np.clip(1 - ((ys - wrist) / (hand - wrist)) ** 2, 0, 1)), arm_half
    )
    arms = (ys >= top) & (ys <= hand)
    for sign in (-1, 1):
        c = cx + sign * arm_c
        spans.append(
            np.column_stack([np.where(arms, c - arm_half, np.nan), np.where(arms, c + arm_half, np.nan)])
        )
    coverage = rasterise(np.stack(spans, axis=1), width)
    return Figure(m, cx, ground, px_per_cm, rows, half, coverage, circ)


def _smooth(ys: np.ndarray, knots_y: list[float], knots_w: list[float]) -> np.ndarray:
    """Half-widths through the knots (shape-preserving cubic: no overshoot); NaN outside them."""
    from scipy.interpolate import PchipInterpolator

    curve = PchipInterpolator(knots_y, knots_w, extrapolate=False)
    return curve(ys)


def _centred(cx: float, half: np.ndarray) -> np.ndarray:
    return np.column_stack([cx - half, cx + half])


def rasterise(spans: np.ndarray, width: int) -> np.ndarray:
    """Coverage (rows, width) of horizontal spans ``(rows, S, 2)``: exact along x, max over spans."""
    x = np.arange(width, dtype=np.float32)
    spans = np.nan_to_num(spans.astype(np.float32), nan=-1.0)  # absent: an empty span left of x=0
    left, right = spans[..., 0:1], spans[..., 1:2]
    cov = np.minimum(x + 1, right)
    cov -= np.maximum(x, left)
    return np.clip(cov.max(axis=1), 0.0, 1.0)
