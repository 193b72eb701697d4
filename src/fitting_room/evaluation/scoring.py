"""Score any image sampler with the configured registry metrics.

The evaluation stage (:mod:`fitting_room.pipeline.evaluate_gan`), training-free baselines and the
benchmarks all score through :func:`score_sampler` (our generator, the baseline, noisy real
images), so every figure comes from exactly the same code and settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fitting_room.config.gan import EvaluationConfig
from fitting_room.data.images import ImageSplit
from fitting_room.evaluation.metric_inputs import Features, MetricInputs
from fitting_room.evaluation.metric_registry import compute_metrics
from fitting_room.seeds import derive_seeds

Sampler = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (labels, seeds) -> uint8 images


@dataclass(frozen=True)
class Scores:
    metrics: dict[str, float]
    real: Features
    fake: Features
    fake_images: np.ndarray


def add_pixel_noise(images: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """uint8 images plus Gaussian noise of std ``sigma`` on the 0-1 scale, clipped back to uint8."""
    noise = np.random.default_rng(seed).normal(0.0, sigma * 255.0, images.shape)
    return np.clip(np.rint(images.astype(np.float64) + noise), 0, 255).astype(np.uint8)


def _subset(split: ImageSplit, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    pick = np.sort(np.random.default_rng(seed).permutation(len(split.images))[:n])
    return split.images[pick], split.labels[pick]


def score_sampler(
    sample: Sampler, classifier: Any, train: ImageSplit, test: ImageSplit, cfg: EvaluationConfig
) -> Scores:
    """Generate ``images_per_class`` per class and compute the configured registry metrics."""
    from fitting_room.evaluation.classifier import embed

    k = test.num_classes
    labels = np.repeat(np.arange(k), cfg.images_per_class)
    fake_images = sample(labels, derive_seeds(cfg.seed, len(labels)))
    real_images, real_labels = _subset(test, cfg.real_images, cfg.seed)
    train_images, train_labels = _subset(train, cfg.real_images, cfg.seed + 1)
    real = embed(classifier, real_images, real_labels)
    fake = embed(classifier, fake_images, labels)
    inputs = MetricInputs(
        real=real,
        fake=fake,
        num_classes=k,
        knn_k=cfg.knn_k,
        kid_subsets=cfg.kid_subsets,
        kid_subset_size=cfg.kid_subset_size,
        seed=cfg.seed,
        references={
            "train": lambda: embed(classifier, train_images, train_labels),
            "noisy_train": lambda: embed(
                classifier, add_pixel_noise(train_images, cfg.noise_sigma, cfg.seed), train_labels
            ),
        },
    )
    return Scores(compute_metrics(cfg.metrics, inputs), real, fake, fake_images)
