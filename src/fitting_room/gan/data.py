"""The GAN's view of the ingested images: pixel scaling and the tf.data training pipeline."""

from __future__ import annotations

from typing import Any

import numpy as np

from fitting_room.data.images import ImageSplit
from fitting_room.errors import DataError


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
