"""The ``evaluate_generator`` stage: score the trained generator, register it, apply the gate.

Scoring is separate from the stage so benchmarks score any sampler (our generator, the
baseline, noisy real images) with exactly the same code and settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fitting_room.config import Config
from fitting_room.config.gan import EvaluationConfig
from fitting_room.errors import GateFailed
from fitting_room.evaluation.registry import Features, MetricInputs, compute_metrics
from fitting_room.files import atomic_write_json
from fitting_room.gan.data import ImageSplit, check_shape, load_split

log = logging.getLogger(__name__)
Sampler = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (labels, seeds) -> uint8 images


@dataclass(frozen=True)
class Scores:
    metrics: dict[str, float]
    real: Features
    fake: Features
    fake_images: np.ndarray


@dataclass(frozen=True)
class EvaluationResult:
    metrics: dict[str, float]
    metrics_path: Path
    gate: Any  # tracking.registry.GateResult, None when not gated
    version: str | None
    alias: str | None


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
    from fitting_room.gan.generate import derive_seeds

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


def write_metrics(metrics: dict[str, Any], path: str | Path) -> Path:
    return atomic_write_json(path, metrics)


def evaluate_generator(
    cfg: Config,
    images_dir: str | Path | None = None,
    model_dir: str | Path | None = None,
    register: bool = True,
) -> EvaluationResult:
    """Score the generator in ``model_dir``, write reports, register it and apply the quality gate.

    Args:
        cfg: resolved config (``evaluation`` section, ``tracking``, ``data.images``).
        images_dir: folder with ``train.npz`` / ``test.npz``; defaults to ``data.images.out_dir``.
        model_dir: saved generator; defaults to ``gan.model_dir``.
        register: log the model, register a version and move aliases (False: score only).

    Returns:
        The metrics, the gate result, and the registered version and alias it received.

    Raises:
        GateFailed: after registering the version as ``challenger``, naming each failed check.
    """
    from fitting_room.evaluation.classifier import load_or_train_classifier
    from fitting_room.evaluation.plots import per_class_rows, write_plots
    from fitting_room.gan.generate import generate, image_grid, load_generator

    ev = cfg.evaluation
    images_dir = Path(images_dir or cfg.data.images.out_dir)
    model_dir = Path(model_dir or cfg.gan.model_dir)
    train, test = load_split(images_dir, "train"), load_split(images_dir, "test")
    check_shape(test, cfg.data.images.resolution, cfg.data.images.channels, str(images_dir / "test.npz"))
    start = time.perf_counter()
    generator = load_generator(model_dir)
    log.info("1/3 loading (or training) the evaluation classifier")
    classifier = load_or_train_classifier(images_dir, ev.classifier, cfg.seed)
    log.info(
        "2/3 scoring the generator against %d test images (%.0f s so far)",
        len(test.images),
        time.perf_counter() - start,
    )
    scores = score_sampler(lambda y, s: generate(generator, y, s), classifier, train, test, ev)
    metrics = scores.metrics
    log.info("scored in %.0f s", time.perf_counter() - start)
    metrics_path = write_metrics(metrics, ev.reports_dir / "metrics.json")
    rows = per_class_rows(scores.real, scores.fake, metrics, generator.class_names)
    shown = np.concatenate([np.flatnonzero(scores.fake.labels == c)[:8] for c in range(test.num_classes)])
    grid = image_grid(scores.fake_images[shown], scores.fake.labels[shown])
    plots = write_plots(rows, grid, ev.reports_dir / "plots")
    if not register:
        return EvaluationResult(metrics, metrics_path, None, None, None)
    log.info("3/3 logging to MLflow, registering the generator and applying the gate")
    gate, version, alias = _register_and_gate(cfg, metrics, model_dir, [metrics_path, *plots])
    result = EvaluationResult(metrics, metrics_path, gate, version, alias)
    if not gate.passed:
        raise GateFailed(
            f"generator version {version} of {ev.registered_model!r} registered as {alias!r}; "
            f"the champion is unchanged.\n{gate.summary()}"
        )
    return result


def _register_and_gate(
    cfg: Config, metrics: dict[str, float], model_dir: Path, artifacts: list[Path]
) -> tuple[Any, str, str]:
    import mlflow

    from fitting_room.gan.mlflow_model import log_generator_model
    from fitting_room.tracking.mlflow_runs import stage_run
    from fitting_room.tracking.registry import champion_metrics, evaluate_gate, promote

    name = cfg.evaluation.registered_model
    with stage_run(cfg, "evaluate_gan") as run:
        mlflow.log_metrics(metrics)
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="reports")
        client = mlflow.MlflowClient()
        champion = champion_metrics(client, name)
        info = log_generator_model(model_dir)
        version = mlflow.register_model(info.model_uri, name).version
        gate = evaluate_gate(metrics, cfg.evaluation.gate, champion)
        alias = promote(client, name, str(version), gate)
        mlflow.log_dict(gate.as_dict(), "gate.json")
        mlflow.set_tags({"gate.passed": str(gate.passed).lower(), "registered_version": str(version)})
        mlflow.set_tag("run_id", run.info.run_id)
    return gate, str(version), alias
