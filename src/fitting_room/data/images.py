"""The ingested image split: arrays, stratified sampling, and the ``.npz`` contract on disk.

Contract (read by validation, the GAN and the evaluation stages): each ``train.npz`` /
``test.npz`` holds ``images`` (N, H, W, C) uint8 0-255, ``labels`` (N,) int64,
``class_names`` (K,) str and ``item_ids`` (N,) str (stable ids for leakage checks and
joins). Strings are stored as fixed-width unicode so loading never needs pickle.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fitting_room.errors import DataError
from fitting_room.files import atomic_write_bytes

NPZ_KEYS = ("images", "labels", "class_names")  # required; item_ids is optional when reading


@dataclass(frozen=True)
class ImageSplit:
    """One split of labelled images (N, H, W, C) with the class names labels index into."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    item_ids: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            got = f"{self.images.shape} {self.images.dtype}"
            raise ValueError(f"images must be (N, H, W, C) uint8, got {got}")
        if self.labels.shape != (n,) or self.item_ids.shape != (n,):
            raise ValueError(f"labels {self.labels.shape} and item_ids {self.item_ids.shape} must be ({n},)")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def take(self, index: np.ndarray) -> ImageSplit:
        """The rows at ``index`` (in that order)."""
        return ImageSplit(self.images[index], self.labels[index], self.class_names, self.item_ids[index])

    def class_counts(self) -> dict[str, int]:
        """Images per class name (zero for classes absent from this split)."""
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}


def allocate_per_class(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` across classes proportionally to ``counts`` (largest remainder)."""
    counts = np.asarray(counts, dtype=np.int64)
    exact = counts * (total / counts.sum())
    take = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - take), kind="stable")
    take[order[: total - int(take.sum())]] += 1
    return np.minimum(take, counts)


def stratified_subsample(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Indices of ``n`` rows keeping class proportions; all rows when ``n`` is None or too big.

    Returned indices are sorted, so the subsample keeps the source order (stable diffs).
    """
    labels = np.asarray(labels)
    if n is None or n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    picked = [
        rng.permutation(np.flatnonzero(labels == c))[:k]
        for c, k in zip(classes, allocate_per_class(counts, n), strict=True)
    ]
    return np.sort(np.concatenate(picked))


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class train/test split; returns sorted (train_index, test_index).

    Each class sends ``round(n * test_fraction)`` items to test, at least one when it has
    two or more, so every class is evaluated; a class with a single item stays in train
    because a class the model never saw cannot be scored fairly.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = 0 if len(idx) < 2 else min(len(idx) - 1, max(1, round(len(idx) * test_fraction)))
        test.append(idx[:k])
        train.append(idx[k:])
    empty = np.array([], dtype=np.int64)
    return np.sort(np.concatenate(train or [empty])), np.sort(np.concatenate(test or [empty]))


def write_images_npz(split: ImageSplit, path: str | Path) -> Path:
    """Write a split as an uncompressed ``.npz`` (fast to load; DVC deduplicates it)."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        images=split.images,
        labels=split.labels.astype(np.int64),
        class_names=np.array(split.class_names, dtype=str),
        item_ids=np.asarray(split.item_ids, dtype=str),
    )
    return atomic_write_bytes(path, buffer.getvalue())


def read_images_npz(path: str | Path) -> ImageSplit:
    """Load a split written by :func:`write_images_npz`, checking the contract's keys."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in NPZ_KEYS if k not in npz.files]
            if missing:
                raise DataError(f"{path}: missing arrays {missing} (has {sorted(npz.files)})")
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read images npz ({err})") from None
    try:
        return ImageSplit(
            arrays["images"],
            arrays["labels"].astype(np.int64),
            tuple(str(c) for c in arrays["class_names"]),
            arrays.get("item_ids", np.array([f"{path.stem}-{i}" for i in range(len(arrays["labels"]))])),
        )
    except ValueError as err:
        raise DataError(f"{path}: {err}") from None


def load_split(images_dir: str | Path, split: str) -> ImageSplit:
    """Load ``<images_dir>/<split>.npz`` (the ingest stage's output) and check its labels.

    Raises:
        DataError: naming the file and the array at fault.
    """
    path = Path(images_dir) / f"{split}.npz"
    if not path.exists():
        raise DataError(f"{path}: not found (run the ingest stage first)")
    loaded = read_images_npz(path)
    if len(loaded.labels) and (loaded.labels.min() < 0 or loaded.labels.max() >= loaded.num_classes):
        raise DataError(
            f"{path}: 'labels' outside [0, {loaded.num_classes}) for {loaded.num_classes} class_names"
        )
    return loaded


def check_shape(split: ImageSplit, resolution: int, channels: int, where: str) -> None:
    """Fail unless the images match ``data.images.resolution`` / ``channels`` from params."""
    _, h, w, c = split.images.shape
    if (h, w) != (resolution, resolution):
        raise DataError(f"{where}: images are {h}x{w} but data.images.resolution is {resolution}")
    if c != channels:
        raise DataError(f"{where}: images have {c} channel(s) but data.images.channels is {channels}")


def data_hash(images_dir: str | Path) -> str:
    """Short content hash of the train and test splits (keys caches such as the classifier)."""
    digest = hashlib.sha256()
    for split in ("train", "test"):
        with open(Path(images_dir) / f"{split}.npz", "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
