"""Read the ingested image splits and turn them into a tf.data pipeline for GAN training."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fitting_room.errors import DataError


@dataclass(frozen=True)
class ImageSplit:
    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) int64
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_split(images_dir: str | Path, split: str) -> ImageSplit:
    """Load ``<images_dir>/<split>.npz`` and check it follows the ingested-images contract.

    Raises:
        DataError: naming the file and the array at fault.
    """
    path = Path(images_dir) / f"{split}.npz"
    if not path.exists():
        raise DataError(f"{path}: not found (run the ingest stage first)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("images", "labels", "class_names") if k in npz}
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable .npz ({err})") from None
    missing = {"images", "labels", "class_names"} - set(arrays)
    if missing:
        raise DataError(f"{path}: missing array(s) {sorted(missing)}")
    images, labels, names = arrays["images"], arrays["labels"], arrays["class_names"]
    if images.ndim != 4 or images.dtype != np.uint8:
        raise DataError(f"{path}: 'images' must be (N, H, W, C) uint8, got {images.shape} {images.dtype}")
    if labels.shape != (len(images),):
        raise DataError(f"{path}: 'labels' has shape {labels.shape}, expected ({len(images)},)")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
        raise DataError(f"{path}: 'labels' outside [0, {len(names)}) for {len(names)} class_names")
    return ImageSplit(images, labels.astype(np.int64), tuple(str(n) for n in names))


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


def to_model_range(images: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 -1..1 (the generator's tanh range)."""
    return images.astype(np.float32) / 127.5 - 1.0


def to_uint8(images: Any) -> np.ndarray:
    """float -1..1 -> uint8 0..255 (rounded and clipped)."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_dataset(split: ImageSplit, batch_size: int, shuffle_buffer: int, seed: int) -> Any:
    """An endless, shuffled stream of ``(images in -1..1, labels)`` batches of fixed size.

    Order matters: decode once and cache, then shuffle per epoch, then batch with
    ``drop_remainder`` (static shapes let XLA compile one step), then prefetch.
    """
    import tensorflow as tf

    if len(split.images) < batch_size:
        raise DataError(f"only {len(split.images)} train images for gan.training.batch_size={batch_size}")
    ds = tf.data.Dataset.from_tensor_slices((split.images, split.labels.astype(np.int32)))
    ds = ds.map(lambda x, y: (tf.cast(x, tf.float32) / 127.5 - 1.0, y), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.cache().shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
