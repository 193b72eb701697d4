"""The ``fit_recommender`` pipeline stage: train, evaluate, save, log, gate, promote.

1. Fit advisor on a random 80/10/10 transaction split (early stopping on 10 %, metrics on 10 %).
2. Ranking metrics on a time-ordered split (latest transactions held out) vs the baselines.
3. The shipped item index is rebuilt on every transaction; the advisor is the evaluated one.
4. ``models/recommender/`` is replaced as a whole (written beside it, then swapped in) and
   ``reports/recommender/metrics.json`` written for DVC.
5. MLflow: params, metrics, the guide registered as one pyfunc model (the ``guide`` role);
   the gate decides ``champion`` (passed) or ``challenger`` (failed, then
   :class:`GateFailed` is raised).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fitting_room.config import Config
from fitting_room.errors import DataError
from fitting_room.files import atomic_write_json, staged_dir
from fitting_room.recommender.advisor import train_advisor
from fitting_room.recommender.body import fit_body_model
from fitting_room.recommender.catalog import build_catalog
from fitting_room.recommender.evaluate import evaluate_fit, evaluate_ranking
from fitting_room.recommender.guide import save_guide
from fitting_room.recommender.splits import random_split, time_split

log = logging.getLogger(__name__)
REQUIRED_COLUMNS = ("user_id", "item_id", "fit", "size", "category", "rented_for", "review_date")


@dataclass(frozen=True)
class FitRecommenderResult:
    model_dir: Path
    metrics_path: Path
    metrics: dict[str, float]
    gate_passed: bool | None = None  # None when not tracked (no MLflow)
    gate_summary: str = ""
    versions: dict[str, str] = field(default_factory=dict)  # registered name -> version
    aliases: dict[str, str] = field(default_factory=dict)  # registered name -> alias given


def read_shoppers(path: str | Path) -> pd.DataFrame:
    """The validated shoppers table, checked for the columns the guide needs."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: shoppers table not found (run the ingest and validation stages first)")
    frame = pd.read_parquet(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}")
    frame["user_id"] = frame["user_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    return frame


def train_guide(frame: pd.DataFrame, cfg: Config, model_dir: Path) -> dict[str, float]:
    """Train and evaluate both models on ``frame`` and save the guide to ``model_dir``.

    Returns:
        The metrics (fit metrics prefixed ``advisor_``, ranking metrics, timings).
    """
    rc = cfg.recommender
    if rc.max_rows and len(frame) > rc.max_rows:
        frame = frame.sample(rc.max_rows, random_state=cfg.seed)
    start = time.perf_counter()
    train, val, test = random_split(frame, rc.split.val_fraction, rc.split.test_fraction, cfg.seed)
    log.info("1/4 fitting the advisor on %d transactions (%d for early stopping)", len(train), len(val))
    advisor, facts = train_advisor(train, val, rc.advisor, cfg.seed)
    metrics = {**facts, **evaluate_fit(advisor, test)}
    log.info("advisor: %.0f s; scoring the ranking on a time split", time.perf_counter() - start)

    time_train, time_test = time_split(frame, rc.split.time_holdout_fraction)
    log.info("2/4 building the catalog index on the %d earlier transactions", len(time_train))
    index = build_catalog(time_train, rc.ranker, rc.category_classes, rc.default_class)
    log.info("3/4 ranking %d held-out later transactions against the baselines", len(time_test))
    metrics.update(evaluate_ranking(index, advisor, time_train, time_test, rc.ranker, cfg.seed))
    log.info("4/4 building the shipped catalog index on all %d transactions", len(frame))
    shipped = build_catalog(frame, rc.ranker, rc.category_classes, rc.default_class)
    metrics["train_seconds"] = time.perf_counter() - start
    log.info("guide trained in %.0f s; saving it", metrics["train_seconds"])
    metrics["catalog_items"] = float(len(shipped))
    info = {"rows": len(frame), "seed": cfg.seed, "profile": cfg.profile, "metrics": metrics}
    body = fit_body_model(frame, rc.body_min_rows)  # the try-on view's measurement imputer
    save_guide(model_dir, advisor, shipped, rc.ranker, info, body)
    return metrics


def fit_recommender(
    cfg: Config, shoppers_path: str | Path, root: str | Path = ".", track: bool = True
) -> FitRecommenderResult:
    """The pipeline stage (see the module docstring).

    Args:
        cfg: resolved config; ``cfg.recommender`` holds every knob.
        shoppers_path: ``data/shoppers/validated.parquet``.
        root: project root (model and report paths are relative to it).
        track: log to MLflow and apply the gate (False: train, save and report only).

    Raises:
        DataError: missing or malformed input.
        GateFailed: the new version was registered as ``challenger``; champion untouched.
    """
    rc = cfg.recommender
    root = Path(root)
    frame = read_shoppers(shoppers_path)
    model_dir, reports = root / rc.model_dir, root / rc.reports_dir
    with staged_dir(model_dir) as build:  # the old guide stays until the new one is complete
        metrics = train_guide(frame, cfg, build)
    metrics_path = atomic_write_json(reports / "metrics.json", {k: round(v, 6) for k, v in metrics.items()})
    if not track:
        return FitRecommenderResult(model_dir, metrics_path, metrics)
    return _track(cfg, root, model_dir, metrics_path, metrics)


def _track(
    cfg: Config, root: Path, model_dir: Path, metrics_path: Path, metrics: dict[str, float]
) -> FitRecommenderResult:
    from fitting_room.recommender.mlflow_models import log_guide_model
    from fitting_room.tracking.promotion import register_and_gate
    from fitting_room.tracking.roles import GUIDE

    rc = cfg.recommender
    log.info("logging to MLflow, registering the guide and applying the gate")
    promotion = register_and_gate(
        cfg,
        "fit_recommender",
        GUIDE,
        metrics,
        rc.gate,
        lambda: log_guide_model(model_dir),
        artifacts=[metrics_path],
        params={"recommender": rc.model_dump(mode="json", exclude={"category_classes"})},
        root=root,
    )
    name, version = promotion.registered_name, promotion.version
    return FitRecommenderResult(
        model_dir,
        metrics_path,
        metrics,
        True,
        promotion.gate.summary(),
        {name: version},
        {name: promotion.alias},
    )
