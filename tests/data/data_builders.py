"""Builders for tiny, real data files made inside each test (no shared data needed).

A plain module with a unique name (not conftest) so tiers never shadow each other's helpers.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from fitting_room.data.fashion_mnist import SPLIT_FILES
from fitting_room.data.idx import encode_idx
from fitting_room.files import sha256_bytes

RTR_LINE = {
    "fit": "fit",
    "user_id": "420272",
    "bust size": "34d",
    "item_id": "2260466",
    "weight": "137lbs",
    "rating": "10",
    "rented for": "vacation",
    "body type": "hourglass",
    "category": "romper",
    "height": "5' 8\"",
    "size": 14,
    "age": "28",
    "review_date": "April 20, 2016",
}
MODCLOTH_LINE = {
    "item_id": "123373",
    "waist": "29",
    "size": 7,
    "quality": 5,
    "cup size": "dd/e",
    "hips": "38.0",
    "bra size": "34",
    "category": "new",
    "bust": "36",
    "height": "5ft 6in",
    "user_name": "Emily",
    "length": "just right",
    "fit": "small",
    "user_id": "991571",
    "shoe size": "9.00",
    "shoe width": "average",
}


def make_fashion_mnist(
    folder: Path,
    n_train: int = 40,
    n_test: int = 20,
    gz: bool = True,
    seed: int = 0,
    train_labels: np.ndarray | None = None,
) -> dict[str, str]:
    """Write the four Fashion-MNIST IDX files with random pixels and balanced labels.

    ``train_labels`` replaces the balanced train labels (e.g. to plant an invalid one).

    Returns:
        The checksum table (stem -> SHA-256 of the decompressed bytes) to verify them with.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images_stem, labels_stem = SPLIT_FILES[split]
        arrays = {
            images_stem: rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
            labels_stem: (np.arange(n) % 10).astype(np.uint8),
        }
        if split == "train" and train_labels is not None:
            arrays[labels_stem] = np.asarray(train_labels, dtype=np.uint8)
        for stem, array in arrays.items():
            raw = encode_idx(array)
            checksums[stem] = sha256_bytes(raw)
            target = folder / (f"{stem}.gz" if gz else stem)
            target.write_bytes(gzip.compress(raw) if gz else raw)
    return checksums


def write_jsonl(path: Path, records: list[dict | str]) -> Path:
    """Write JSON lines (strings are written verbatim, to build malformed lines); .gz compresses."""
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    path.write_bytes(gzip.compress(text.encode()) if path.suffix == ".gz" else text.encode())
    return path


def make_catalog(folder: Path, rows: list[dict], images: dict[str, object] | None = None) -> Path:
    """Write ``catalog.csv`` (columns from the first row) and the given images into ``folder``.

    ``images`` maps a relative file name to a Pillow image (saved in the format its suffix
    names) or to raw bytes (written verbatim, e.g. to plant an undecodable file).
    """
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (images or {}).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            content.save(target)
    with open(folder / "catalog.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def garment_photo(mode: str = "RGB", size: tuple[int, int] = (64, 64), shade: int = 40):
    """A product shot: a dark rectangle (the garment) on a white background."""
    from PIL import Image, ImageDraw

    background = 255 if mode in ("L", "1") else (255, 255, 255)
    fill = shade if mode in ("L", "1") else (shade, shade // 2, shade)
    img = Image.new(mode, size, background)
    w, h = size
    ImageDraw.Draw(img).rectangle([w // 4, h // 8, 3 * w // 4, 7 * h // 8], fill=fill)
    return img
