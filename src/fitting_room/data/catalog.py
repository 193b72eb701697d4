"""A retailer's catalog (a folder of product photos + ``catalog.csv``) -> labelled image splits.

Every row either becomes an image or lands in the quarantine report with its reason;
nothing is dropped silently. Images are letterboxed, not center-cropped, to the square
``resolution``: a crop can cut off sleeves, hems or straps, and the silhouette is exactly
what the GAN and the classifier learn from. The padding takes the median colour of the
photo's border, so white-background product shots and dark-background Fashion-MNIST-like
images are both padded invisibly.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fitting_room.config.data import CatalogConfig
from fitting_room.data.images import ImageSplit, stratified_split
from fitting_room.errors import DataError
from fitting_room.files import sha256_bytes

REQUIRED_COLUMNS = ("item_id", "image", "category")
# Modes Pillow converts to L/RGB without losing meaning; 16-bit/float/LAB/HSV would be
# clipped or mis-scaled by a plain convert(), so they are quarantined instead.
CONVERTIBLE_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr"})
QUARANTINE_COLUMNS = ("row", "item_id", "file", "reason")


@dataclass(frozen=True)
class Quarantined:
    """One catalog row that could not become an image, and why."""

    row: int
    item_id: str
    file: str
    reason: str


@dataclass(frozen=True)
class CatalogData:
    """Both splits, the quarantine report, and the input fingerprint for ``meta.json``."""

    train: ImageSplit
    test: ImageSplit
    quarantined: tuple[Quarantined, ...]
    total_rows: int
    inputs: dict[str, dict[str, str]]


def read_catalog_table(path: Path) -> list[dict[str, str]]:
    """Rows of ``catalog.csv`` as dicts; raises naming the file when columns are missing."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing required column(s) {missing} (has {reader.fieldnames})")
            return list(reader)
    except FileNotFoundError:
        raise DataError(f"{path}: catalog table not found") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: not a readable CSV ({err})") from None


def load_image(path: Path, resolution: int, channels: int, max_aspect_ratio: float) -> np.ndarray:
    """Decode, convert and letterbox one image to (resolution, resolution, channels) uint8.

    Raises:
        ValueError: with the reason the image cannot be used (the caller quarantines it).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode, (width, height) = img.mode, img.size
            if mode not in CONVERTIBLE_MODES:
                raise ValueError(f"unsupported image mode {mode!r}")
            if max(width, height) > max_aspect_ratio * min(width, height):
                raise ValueError(f"aspect ratio {width}x{height} exceeds {max_aspect_ratio:g}:1")
            converted = _flatten_alpha(img).convert("L" if channels == 1 else "RGB")
    except FileNotFoundError:
        raise ValueError("missing file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as err:
        raise ValueError(f"undecodable image ({type(err).__name__}: {err})") from None
    pixels = np.asarray(converted)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    fill = np.median(border, axis=0).astype(np.uint8)
    color = int(fill) if channels == 1 else tuple(int(v) for v in fill)
    boxed = ImageOps.pad(converted, (resolution, resolution), method=Image.Resampling.LANCZOS, color=color)
    out = np.asarray(boxed, dtype=np.uint8)
    return out[..., np.newaxis] if channels == 1 else out


def _flatten_alpha(img):
    """Composite transparent pixels onto white: product cut-outs are shown on white pages."""
    from PIL import Image

    if img.mode in ("LA", "PA", "RGBA", "RGBa") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img


def reject_reason(
    item_id: str, file: str, category: str, known: list[str] | None, first_row: dict[str, int], folder: Path
) -> str | None:
    """Why a catalog row cannot be used before its image is even opened; None if it can."""
    if not category:
        return "missing category"
    if known is not None and category not in known:
        return f"category {category!r} not in data.images.catalog.class_names"
    if not file:
        return "missing image path"
    if item_id in first_row:
        # a second row would put the same product in train and test (leakage)
        return f"duplicate item_id {item_id!r} (first at row {first_row[item_id]})"
    if not (folder / file).resolve().is_relative_to(folder.resolve()):
        return "image path outside the catalog folder"
    return None


def load_catalog(cfg: CatalogConfig, resolution: int, channels: int, seed: int) -> CatalogData:
    """Read a catalog folder into stratified train/test splits plus a quarantine report.

    Args:
        cfg: the ``data.images.catalog`` section (``dir`` must be set).
        resolution: pixels per side of every stored image.
        channels: 1 (grayscale) or 3 (RGB).
        seed: seed of the train/test split.

    Raises:
        DataError: the table is missing/malformed, no usable image remains, or the
            quarantined share exceeds ``max_quarantine_share`` (the message lists examples).
    """
    if cfg.dir is None:
        raise DataError("data.images.catalog.dir is not set")
    folder = Path(cfg.dir)
    table_path = folder / cfg.csv
    rows = read_catalog_table(table_path)
    known = list(cfg.class_names) if cfg.class_names else None
    images, categories, item_ids, quarantined, fingerprints = [], [], [], [], []
    first_row: dict[str, int] = {}  # item_id -> row it was first accepted at
    for i, row in enumerate(rows):
        item_id, file, category = (str(row.get(c) or "").strip() for c in REQUIRED_COLUMNS)
        reason = reject_reason(item_id, file, category, known, first_row, folder)
        if reason is None:
            try:
                images.append(load_image(folder / file, resolution, channels, cfg.max_aspect_ratio))
            except ValueError as err:
                reason = str(err)
        if reason is not None:
            quarantined.append(Quarantined(i, item_id, file, reason))
            continue
        if item_id:
            first_row[item_id] = i
        categories.append(category)
        item_ids.append(item_id or f"row-{i}")
        fingerprints.append(f"{file}:{sha256_bytes((folder / file).read_bytes())}")
    _check_quarantine(table_path, len(rows), quarantined, cfg.max_quarantine_share)
    class_names = tuple(known or sorted(set(categories)))
    index = {name: k for k, name in enumerate(class_names)}
    labels = np.array([index[c] for c in categories], dtype=np.int64)
    shape = (0, resolution, resolution, channels)
    stacked = np.stack(images) if images else np.zeros(shape, np.uint8)
    everything = ImageSplit(stacked, labels, class_names, np.array(item_ids, dtype=str))
    train_index, test_index = stratified_split(labels, cfg.test_fraction, seed)
    inputs = {
        cfg.csv: {"file": str(table_path), "sha256": sha256_bytes(table_path.read_bytes())},
        "images": {"file": str(folder), "sha256": sha256_bytes("\n".join(sorted(fingerprints)).encode())},
    }
    return CatalogData(
        everything.take(train_index), everything.take(test_index), tuple(quarantined), len(rows), inputs
    )


def _check_quarantine(table: Path, total: int, quarantined: list[Quarantined], max_share: float) -> None:
    if total == 0:
        raise DataError(f"{table}: the catalog has no rows")
    share = len(quarantined) / total
    if len(quarantined) == total or share > max_share:
        shown = "; ".join(f"{q.file or q.item_id or f'row {q.row}'}: {q.reason}" for q in quarantined[:10])
        raise DataError(
            f"{table}: {len(quarantined)} of {total} rows quarantined ({share:.1%}, above "
            f"data.images.catalog.max_quarantine_share={max_share:.1%}): {shown}"
        )


def quarantine_csv(quarantined: tuple[Quarantined, ...]) -> str:
    """The quarantine report as CSV text (header only when nothing was quarantined)."""
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(QUARANTINE_COLUMNS)
    writer.writerows((q.row, q.item_id, q.file, q.reason) for q in quarantined)
    return buffer.getvalue()
