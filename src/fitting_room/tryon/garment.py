"""The generated garment: cut out of its background, smoothly upscaled, warped onto a figure.

1. **Cut-out.** The background colour is the median of the image border; a pixel belongs to
   the garment when it differs from it by more than Otsu's threshold (scikit-image) on that
   difference; specks are dropped (components under a fifth of the largest) and holes filled.
2. **Upscale.** Colour and mask go up by bicubic interpolation (OpenCV; no nearest-neighbour
   blocks), the colour then through a bilateral filter -- it smooths the interpolation's
   ripples but not across the garment's edges -- and the mask through a smoothstep that keeps
   its edge crisp and anti-aliased.
3. **Warp.** The garment's own rows map linearly onto the figure's span for its kind (a dress
   shoulders to hem, trousers waist to ankle, a top shoulders to hips); within each row its
   left and right edges map onto the figure's breadth at that row times the size's ease,
   landmark by landmark, and OpenCV's ``remap`` resamples it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from fitting_room.tryon.figure import Figure

# generator class -> landmarks the garment spans, top to bottom (a hem level is a height fraction)
KINDS: dict[str, tuple[str | float, ...]] = {
    "dress": ("shoulders", "bust", "waist", "hips", 0.33),
    "t-shirt/top": ("shoulders", "bust", "waist", "hips"),
    "shirt": ("shoulders", "bust", "waist", "hips"),
    "pullover": ("shoulders", "bust", "waist", "hips"),
    "coat": ("shoulders", "bust", "waist", "hips", 0.42),
    "trouser": ("waist", "hips", "knee", "ankle"),
}
FITTED = ("bust", "waist", "hips")  # landmarks where a garment's size is felt (and marked)
FABRICS = ((38, 70, 124), (128, 34, 52), (34, 96, 72), (176, 132, 40), (70, 70, 78), (140, 84, 150))


@dataclass(frozen=True)
class Cutout:
    """A garment image (H, W, 3) uint8 with its alpha (H, W) float32 in [0, 1]."""

    rgb: np.ndarray
    alpha: np.ndarray

    @cached_property
    def premultiplied(self) -> np.ndarray:
        """(H, W, 4) float32: colour times alpha, then alpha (what a warp resamples)."""
        return np.dstack([self.rgb.astype(np.float32) * self.alpha[..., None], self.alpha])


def garment_mask(image: np.ndarray) -> np.ndarray:
    """Boolean mask of the garment in a generated image ``(H, W)`` or ``(H, W, C)`` uint8."""
    import cv2
    from scipy.ndimage import binary_fill_holes
    from skimage.filters import threshold_otsu

    pixels = image.astype(np.float32).reshape(image.shape[0], image.shape[1], -1)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    distance = np.abs(pixels - np.median(border, axis=0)).max(axis=-1)
    if distance.max() - distance.min() < 1e-6:
        return np.ones(distance.shape, dtype=bool)  # a flat image: nothing to separate
    # Otsu splits garment from background; capped low so that dark fabric stays garment
    mask = distance > max(min(threshold_otsu(distance), 0.15 * distance.max()), 6.0)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = np.flatnonzero(areas >= areas.max() / 5) + 1
        mask = np.isin(labels, keep)
    mask = binary_fill_holes(mask)
    return mask if mask.any() else np.ones(distance.shape, dtype=bool)


def cut_out(image: np.ndarray, side: int = 192, fabric: int = 0) -> Cutout:
    """The garment of a generated image, upscaled (longest side ``side`` px) on a clear background.

    Args:
        image: ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8 from the generator.
        side: longest side of the result.
        fabric: index into :data:`FABRICS`; grey garments are dyed with it (shading kept).
    """
    import cv2

    mask = garment_mask(image)
    scale = side / max(image.shape[:2])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    if image.ndim == 2 or image.shape[-1] == 1:
        grey = image.reshape(image.shape[:2]).astype(np.float32) / 255.0
        shade = 0.45 + 0.55 * grey  # the generator's light-dark becomes folds and highlights
        colour = np.asarray(FABRICS[fabric % len(FABRICS)], np.float32)
        rgb = shade[..., None] * colour + (1 - shade[..., None]) * colour * 0.35
    else:
        rgb = image[..., :3].astype(np.float32)
    big = cv2.resize(np.clip(rgb, 0, 255).astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
    big = cv2.bilateralFilter(np.clip(big, 0, 255), d=7, sigmaColor=30.0, sigmaSpace=3.0)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0.6)
    alpha = cv2.resize(soft, size, interpolation=cv2.INTER_CUBIC)
    edge = np.clip((alpha - 0.35) / 0.3, 0.0, 1.0)
    alpha = edge * edge * (3 - 2 * edge)  # smoothstep: crisp but anti-aliased outline
    return Cutout(np.clip(big, 0, 255).astype(np.uint8), alpha.astype(np.float32))


def _level_row(figure: Figure, level: str | float) -> float:
    if isinstance(level, str):
        return figure.rows[level]
    return figure.ground_y - level * figure.measurements.height_cm * figure.px_per_cm


def target_widths(
    figure: Figure, kind: str, ease_cm: float, source_flare: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (px) of a garment kind's landmarks on the figure and its half-width there at ``ease_cm``.

    The garment's circumference at a landmark is the body's plus the ease, so its breadth is
    the body's times ``(C + ease) / C`` (never below 0.85 of it, never above 1.6). A hem below
    the hips (dresses, coats) keeps the garment's own flare relative to its hips.
    """
    rows, halves = [], []
    for level in KINDS[kind]:
        rows.append(_level_row(figure, level))
        if isinstance(level, float):  # a hem: the hips' breadth, flared as the garment is
            name, flare = "hips", float(np.clip(source_flare, 1.0, 1.5))
        else:
            name, flare = level, 1.0
        circ = figure.circumference[name]
        factor = float(np.clip((circ + ease_cm) / circ, 0.85, 1.6))
        halves.append(figure.half_widths[name] * factor * flare)
    return np.asarray(rows), np.asarray(halves)


def row_edges(alpha: np.ndarray) -> tuple[int, int, np.ndarray, np.ndarray]:
    """First and last garment row, and each row's left and right garment edge (gaps filled)."""
    inside = alpha > 0.5 if (alpha > 0.5).any() else alpha >= alpha.max()  # a speck: its brightest
    filled = np.flatnonzero(inside.any(axis=1))
    top, bottom = int(filled[0]), int(filled[-1])
    left = np.where(inside.any(axis=1), np.argmax(inside, axis=1), np.nan).astype(float)
    right = np.where(inside.any(axis=1), alpha.shape[1] - 1 - np.argmax(inside[:, ::-1], axis=1), np.nan)
    known = np.isfinite(left)
    rows = np.arange(alpha.shape[0])
    left = np.interp(rows, rows[known], left[known])
    right = np.interp(rows, rows[known], right[known].astype(float)) + 1.0
    return top, bottom, left, right


@dataclass(frozen=True)
class Layer:
    """A garment drawn on the canvas: premultiplied colour and alpha of the rectangle at (y0, x0)."""

    y0: int
    x0: int
    rgb: np.ndarray  # (h, w, 3) float32, premultiplied by alpha
    alpha: np.ndarray  # (h, w) float32


def warp_onto(cutout: Cutout, figure: Figure, kind: str, ease_cm: float) -> Layer:
    """The garment on the figure's canvas at ``ease_cm`` (only the rectangle it can cover).

    Colour is resampled premultiplied by alpha, so the garment's edge blends with the figure
    instead of picking up the colour of the cut-away background.
    """
    import cv2

    top, bottom, left, right = row_edges(cutout.alpha)
    span = max(bottom - top, 1)
    # the garment's own flare: breadth at its hem vs at its hip level (same relative height)
    hip_share = 0.62 if KINDS[kind][0] == "shoulders" else 0.2
    hip_row = int(round(top + hip_share * span))
    flare = (right[bottom] - left[bottom]) / max(right[hip_row] - left[hip_row], 1.0)
    rows, halves = target_widths(figure, kind, ease_cm, flare)
    height, width = figure.coverage.shape
    y0, y1 = max(int(np.floor(rows[0])), 0), min(int(np.ceil(rows[-1])) + 1, height)
    x0 = max(int(np.floor(figure.centre_x - halves.max())) - 1, 0)
    x1 = min(int(np.ceil(figure.centre_x + halves.max())) + 2, width)
    ys = np.arange(y0, y1, dtype=np.float32) + 0.5
    half = np.interp(ys, rows, halves).astype(np.float32)
    src_y = (top + (ys - rows[0]) / (rows[-1] - rows[0]) * span).astype(np.float32)
    sy = np.clip(src_y, top, bottom)
    src_left = np.interp(sy, np.arange(len(left)), left).astype(np.float32)
    src_right = np.interp(sy, np.arange(len(right)), right).astype(np.float32)
    xs = np.arange(x0, x1, dtype=np.float32) + 0.5
    u = (xs[None, :] - (figure.centre_x - half)[:, None]) / (2 * half[:, None])
    map_x = src_left[:, None] + u * (src_right - src_left)[:, None] - 0.5
    map_y = np.repeat(src_y[:, None] - 0.5, len(xs), axis=1)
    outside = (u < 0) | (u > 1) | (ys < rows[0])[:, None] | (ys > rows[-1])[:, None]
    map_x[outside] = -10.0
    map_y[outside] = -10.0
    out = cv2.remap(
        cutout.premultiplied, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    alpha = np.clip(out[..., 3], 0.0, 1.0)
    return Layer(y0, x0, out[..., :3], alpha)
