"""Fashion-MNIST from IDX files: find them, verify them, turn them into image splits.

Look-up order: ``path`` from params, then the Debian ``system_path``
(package ``dataset-fashion-mnist``), then earlier downloads in ``download_dir``, then a
download from ``base_url``. Integrity is checked on the *decompressed* IDX bytes, because
Debian re-gzipped the files, so their gzip bytes differ from upstream's while the content
is identical.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fitting_room.config.data import FASHION_MNIST_CLASSES, FashionMnistConfig
from fitting_room.data.download import download_file
from fitting_room.data.idx import load_idx_bytes, parse_idx
from fitting_room.data.images import ImageSplit, stratified_subsample
from fitting_room.errors import DataError
from fitting_room.files import sha256_bytes

log = logging.getLogger(__name__)

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# SHA-256 of the decompressed upstream IDX files (zalandoresearch/fashion-mnist).
OFFICIAL_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
STEMS = tuple(stem for pair in SPLIT_FILES.values() for stem in pair)


@dataclass(frozen=True)
class FashionMnistFiles:
    """Where the four IDX files were found (``origin``: path|system_path|download_dir|download)."""

    paths: dict[str, Path]
    origin: str


@dataclass(frozen=True)
class FashionMnistData:
    """Both splits plus the provenance that goes into ``meta.json``."""

    train: ImageSplit
    test: ImageSplit
    origin: str
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)  # stem -> {file, sha256}


def find_idx_files(folder: Path | None) -> dict[str, Path] | None:
    """The four IDX files in ``folder`` (``.gz`` preferred, raw accepted); None if any is missing."""
    if folder is None:
        return None
    found = {}
    for stem in STEMS:
        candidates = [folder / f"{stem}.gz", folder / stem]
        hit = next((p for p in candidates if p.is_file()), None)
        if hit is None:
            return None
        found[stem] = hit
    return found


def locate_fashion_mnist(cfg: FashionMnistConfig, progress: bool | None = None) -> FashionMnistFiles:
    """Find the IDX files following the look-up order, downloading as the last resort.

    Raises:
        DataError: the files are nowhere and downloading is disabled or fails.
    """
    folders = (("path", cfg.path), ("system_path", cfg.system_path), ("download_dir", cfg.download_dir))
    for origin, folder in folders:
        found = find_idx_files(folder)
        if found:
            log.info("Fashion-MNIST: using %s (%s)", folder, origin)
            return FashionMnistFiles(found, origin)
    tried = ", ".join(str(folder) for _, folder in folders if folder is not None)
    if not cfg.download:
        raise DataError(
            f"Fashion-MNIST IDX files not found in {tried} and data.images.fashion_mnist.download is "
            "false (install the Debian package dataset-fashion-mnist or set data.images.fashion_mnist.path)"
        )
    paths = {}
    for stem in STEMS:
        dest = cfg.download_dir / f"{stem}.gz"
        if not dest.is_file():
            url = f"{str(cfg.base_url).rstrip('/')}/{stem}.gz"
            log.info("Fashion-MNIST: downloading %s", url)
            download_file(url, dest, timeout_s=cfg.timeout_s, progress=progress)
        paths[stem] = dest
    return FashionMnistFiles(paths, "download")


def verify_checksum(data: bytes, name: str, expected: str | None) -> str:
    """Return the SHA-256 of ``data``; raise naming the file and both hashes on mismatch."""
    actual = sha256_bytes(data)
    if expected is None:
        raise DataError(f"{name}: no expected SHA-256 in the checksum table")
    if actual != expected.lower():
        raise DataError(
            f"{name}: SHA-256 mismatch (expected {expected}, got {actual}); the file is corrupt or altered"
        )
    return actual


def read_split(
    images_path: Path, labels_path: Path, split: str, checksums: Mapping[str, str]
) -> tuple[ImageSplit, dict[str, dict[str, str]]]:
    """Read, verify and check one images/labels pair into an :class:`ImageSplit`."""
    stems = SPLIT_FILES[split]
    arrays, inputs = [], {}
    for stem, path, ndim in ((stems[0], images_path, 3), (stems[1], labels_path, 1)):
        raw = load_idx_bytes(path, str(path))
        inputs[stem] = {"file": str(path), "sha256": verify_checksum(raw, str(path), checksums.get(stem))}
        arrays.append(parse_idx(raw, str(path), ndim=ndim))
    images, labels = arrays
    if len(images) != len(labels):
        raise DataError(f"{images_path}: {len(images):,} images but {labels_path} has {len(labels):,} labels")
    bad = np.flatnonzero(labels >= len(FASHION_MNIST_CLASSES))
    if bad.size:
        shown = ", ".join(f"row {i}: {labels[i]}" for i in bad[:5])
        raise DataError(
            f"{labels_path}: {bad.size:,} labels outside [0, {len(FASHION_MNIST_CLASSES) - 1}] ({shown})"
        )
    ids = np.array([f"fmnist-{split}-{i:05d}" for i in range(len(labels))])
    split_data = ImageSplit(images[..., np.newaxis], labels.astype(np.int64), FASHION_MNIST_CLASSES, ids)
    return split_data, inputs


def load_fashion_mnist(
    cfg: FashionMnistConfig,
    seed: int,
    checksums: Mapping[str, str] = OFFICIAL_SHA256,
    progress: bool | None = None,
) -> FashionMnistData:
    """Locate, verify and read Fashion-MNIST, then subsample each split (stratified, seeded).

    Args:
        cfg: the ``data.images.fashion_mnist`` section.
        seed: seed of the stratified subsampling (``max_train`` / ``max_test``).
        checksums: expected SHA-256 per file stem of the decompressed bytes; tests pass
            their own table for synthetic files.
        progress: show download progress bars; None = only on a terminal.

    Returns:
        Train and test splits with images shaped (N, 28, 28, 1).
    """
    files = locate_fashion_mnist(cfg, progress)
    splits, inputs = {}, {}
    for split, limit in (("train", cfg.max_train), ("test", cfg.max_test)):
        images_stem, labels_stem = SPLIT_FILES[split]
        data, split_inputs = read_split(files.paths[images_stem], files.paths[labels_stem], split, checksums)
        splits[split] = data.take(stratified_subsample(data.labels, limit, seed))
        inputs.update(split_inputs)
    return FashionMnistData(splits["train"], splits["test"], files.origin, inputs)
