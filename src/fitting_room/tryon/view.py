"""The try-on view: a figure, the garment at one size, and the advisor's fit marks -> PNG bytes.

Size changes the drawing through the garment's ease: at the shopper's expected size (the
advisor's expected-size model) the garment has ``ease_cm`` more circumference than the body at
each landmark, and every size step away adds or removes ``grade_cm_per_size`` -- so a smaller
size draws tighter and a larger one looser, never narrower at any landmark.

Marks follow the advisor, not the drawing: where P(small) at a size exceeds the threshold the
garment is marked *snug* where the body is fullest (the landmarks it covers whose circumference
is within 5 % of the largest; a fixed ease stretches most there), where P(large) does it is
marked *loose* where the body is slimmest. The overlay uses the Okabe-Ito colour-blind-safe
orange (snug) and blue (loose), and shape as well as colour: arrows pointing in for snug, out
for loose. The note always carries the probabilities it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitting_room.png import encode_png
from fitting_room.tryon.figure import Figure, Measurements, build_figure
from fitting_room.tryon.garment import FITTED, KINDS, Cutout, Layer, target_widths, warp_onto

BACKGROUND = np.array([244, 242, 239], np.float32)  # light product-photo grey
SKIN = np.array([214, 196, 178], np.float32)  # a neutral dress-form tone
SNUG = (230, 159, 0)  # Okabe-Ito orange
LOOSE = (0, 114, 178)  # Okabe-Ito blue


@dataclass(frozen=True)
class ViewConfig:
    """Drawing knobs (``serving.tryon`` in params.yaml)."""

    width: int = 192
    height: int = 288
    px_per_cm: float = 1.3
    ease_cm: float = 6.0
    grade_cm_per_size: float = 1.27
    threshold: float = 0.4


@dataclass(frozen=True)
class SizeFit:
    """The advisor's answer for one size."""

    size: float
    p_small: float
    p_fit: float
    p_large: float


@dataclass(frozen=True)
class SizeView:
    fit: SizeFit
    marks: tuple[tuple[str, str], ...]  # (landmark, "snug" | "loose")
    note: str
    png: bytes


def fit_marks(
    kind: str, circumference: dict[str, float], fit: SizeFit, threshold: float
) -> list[tuple[str, str]]:
    """Landmarks to mark snug (P(small) > threshold) and loose (P(large) > threshold)."""
    covered = [name for name in FITTED if name in KINDS[kind]]
    circ = {name: circumference[name] for name in covered}
    marks = []
    if fit.p_small > threshold:
        marks += [(n, "snug") for n in covered if circ[n] >= 0.95 * max(circ.values())]
    if fit.p_large > threshold:
        marks += [(n, "loose") for n in covered if circ[n] <= 1.05 * min(circ.values())]
    return marks


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def fit_note(fit: SizeFit, marks: list[tuple[str, str]], threshold: float) -> str:
    """One sentence for a size: its marks and the probabilities they came from."""
    odds = f"P(small) {fit.p_small:.0%}, P(fit) {fit.p_fit:.0%}, P(large) {fit.p_large:.0%}"
    snug = [n for n, k in marks if k == "snug"]
    loose = [n for n, k in marks if k == "loose"]
    parts = ([f"snug across {_names(snug)}"] if snug else []) + (
        [f"loose at {_names(loose)}"] if loose else []
    )
    if not parts:
        return f"Size {fit.size:g}: no fit warning ({odds}; none above {threshold:.0%})"
    return f"Size {fit.size:g}: {' and '.join(parts)} ({odds}; threshold {threshold:.0%})"


def ease_at(size: float, expected_size: float, cfg: ViewConfig) -> float:
    """Garment circumference minus body circumference (cm) at ``size``."""
    return cfg.ease_cm + (size - expected_size) * cfg.grade_cm_per_size


def draw_marks(
    canvas: np.ndarray, figure: Figure, kind: str, ease_cm: float, marks: list[tuple[str, str]]
) -> None:
    """Arrows at the garment's edges on ``canvas`` (in place): in for snug, out for loose."""
    import cv2

    rows, halves = target_widths(figure, kind, ease_cm)
    levels = list(KINDS[kind])
    for name, how in marks:
        i = levels.index(name)
        y, half = rows[i], halves[i]
        colour = SNUG if how == "snug" else LOOSE
        for sign in (-1, 1):
            edge = figure.centre_x + sign * half
            tip, base = (edge, edge + sign * 9) if how == "snug" else (edge + sign * 9, edge)
            points = np.array([[tip, y], [base, y - 5], [base, y + 5]]) * 16
            cv2.fillPoly(canvas, [points.astype(np.int32)], colour, cv2.LINE_AA, shift=4)
            tail = (base + sign * 7) if how == "snug" else (base - sign * 2)
            start = (round(min(base, tail) * 16), round((y - 1) * 16))
            cv2.rectangle(canvas, start, (round(max(base, tail) * 16), round((y + 1) * 16)), colour, -1,
                          cv2.LINE_AA, shift=4)  # fmt: skip


def backdrop(figure: Figure) -> np.ndarray:
    """The figure on the background: RGB uint8 (drawn once per request, shared by its sizes)."""
    canvas = figure.coverage[..., None] * (SKIN - BACKGROUND)
    canvas += BACKGROUND + 0.5
    return canvas.astype(np.uint8)


def compose(base: np.ndarray, layer: Layer) -> np.ndarray:
    """The garment layer over ``base`` (uint8, left as it was): RGB uint8.

    Only the layer's rectangle is blended, in float, then rounded back.
    """
    canvas = base.copy()
    h, w = layer.alpha.shape
    region = canvas[layer.y0 : layer.y0 + h, layer.x0 : layer.x0 + w]
    blended = region * (1 - layer.alpha[..., None])
    blended += layer.rgb
    region[...] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return canvas


def try_on(
    measurements: Measurements,
    cutout: Cutout,
    kind: str,
    fits: list[SizeFit],
    expected_size: float,
    cfg: ViewConfig,
) -> list[SizeView]:
    """One view per size: the figure (built once) wearing the garment at that size, with marks."""
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not worn on the figure; known: {', '.join(KINDS)}")
    figure = build_figure(measurements, cfg.width, cfg.height, cfg.px_per_cm)
    base = backdrop(figure)
    views = []
    for fit in fits:
        ease = ease_at(fit.size, expected_size, cfg)
        image = compose(base, warp_onto(cutout, figure, kind, ease))
        marks = fit_marks(kind, figure.circumference, fit, cfg.threshold)
        draw_marks(image, figure, kind, ease, marks)
        views.append(SizeView(fit, tuple(marks), fit_note(fit, marks, cfg.threshold), encode_png(image)))
    return views


def product_photo(cutout: Cutout, side: int = 128) -> np.ndarray:
    """The cut-out garment centred on a light background with a soft shadow: RGB uint8 ``side``²."""
    import cv2

    h, w = cutout.alpha.shape
    scale = 0.86 * side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    rgb = cv2.resize(cutout.rgb.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(cutout.alpha, size, interpolation=cv2.INTER_AREA)
    top, left = (side - size[1]) // 2, (side - size[0]) // 2
    full_a = np.zeros((side, side), np.float32)
    full_rgb = np.zeros((side, side, 3), np.float32)
    full_a[top : top + size[1], left : left + size[0]] = alpha
    full_rgb[top : top + size[1], left : left + size[0]] = rgb
    shadow = cv2.GaussianBlur(np.roll(full_a, (3, 2), axis=(0, 1)), (0, 0), 3.0) * 0.25
    shade = np.linspace(1.0, 0.96, side, dtype=np.float32)[:, None, None]  # a studio backdrop's falloff
    canvas = BACKGROUND * shade * (1 - shadow[..., None])
    canvas = canvas * (1 - full_a[..., None]) + full_rgb * full_a[..., None]
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
