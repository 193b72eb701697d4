"""The ``evaluate_gan`` stage: score the trained generator, write its reports, register and gate it.

Scoring lives in :mod:`fitting_room.evaluation` (the classifier, the metric registry and
:func:`~fitting_room.evaluation.scoring.score_sampler`), which knows nothing about this GAN:
``gan/`` imports its evaluation (training-time monitoring), never the reverse. This stage
uses both, so it sits above them, here -- and outside ``gan/``, so that editing it re-runs
only ``evaluate_gan``, not the half-hour ``train_gan`` whose DVC dependency is ``gan/``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fitting_room.config import Config
from fitting_room.data.images import check_shape, load_split
from fitting_room.errors import FittingRoomError
from fitting_room.files import atomic_write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationResult:
    metrics: dict[str, float]
    metrics_path: Path
    gate: Any  # tracking.promotion.GateResult, None when not gated
    version: str | None
    alias: str | None


def gan_evaluation_spec(cfg: Config, images_dir: str | Path) -> dict[str, Any]:
    """What a generator's metrics depend on besides the generator: the images (train for the
    classifier and reference, test), the classifier's recipe and the scoring knobs."""
    from fitting_room.data.images import data_hash

    knobs = cfg.evaluation.model_dump(mode="json", exclude={"gate", "reports_dir"})
    return {"images": data_hash(images_dir), "seed": cfg.seed, "evaluation": knobs}


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
    from fitting_room.evaluation.scoring import score_sampler
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
    metrics_path = atomic_write_json(ev.reports_dir / "metrics.json", metrics)
    rows = per_class_rows(scores.real, scores.fake, metrics, generator.class_names)
    shown = np.concatenate([np.flatnonzero(scores.fake.labels == c)[:8] for c in range(test.num_classes)])
    grid = image_grid(scores.fake_images[shown], scores.fake.labels[shown])
    plots = write_plots(rows, grid, ev.reports_dir / "plots")
    if not register:
        return EvaluationResult(metrics, metrics_path, None, None, None)
    log.info("3/3 logging to MLflow, registering the generator and applying the gate")
    from fitting_room.gan.champion import load_champion_generator
    from fitting_room.gan.mlflow_model import log_generator_model
    from fitting_room.tracking.promotion import evaluation_digest, register_and_gate
    from fitting_room.tracking.roles import GENERATOR

    def rescore(uri: str) -> dict[str, float]:
        """The champion's metrics with this run's classifier, test data and knobs."""
        log.info("the champion was scored on other data: re-scoring %s on this run's", uri)
        champion = load_champion_generator(cfg, uri)
        if len(champion.class_names) != test.num_classes:
            drawn = len(champion.class_names)
            raise FittingRoomError(f"it draws {drawn} classes, the test data has {test.num_classes}")
        return score_sampler(lambda y, s: generate(champion, y, s), classifier, train, test, ev).metrics

    spec = gan_evaluation_spec(cfg, images_dir)
    promotion = register_and_gate(
        cfg,
        "evaluate_gan",
        GENERATOR,
        metrics,
        ev.gate,
        lambda: log_generator_model(model_dir),
        eval_digest=evaluation_digest(spec),
        rescore=rescore,
        artifacts=[metrics_path, *plots],
        inputs={"images-test": images_dir / "test.npz", "images-train": images_dir / "train.npz"},
    )
    return EvaluationResult(metrics, metrics_path, promotion.gate, promotion.version, promotion.alias)
