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
from typing import Any

import pandas as pd

from fitting_room.config import Config
from fitting_room.config.recommender import RankerConfig
from fitting_room.errors import DataError
from fitting_room.files import atomic_write_json, sha256_file, staged_dir
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


@dataclass(frozen=True)
class GuideSplits:
    """The parts of the shoppers table a guide is trained and scored on."""

    frame: pd.DataFrame  # all rows used (after the max_rows sample): the shipped catalog
    train: pd.DataFrame  # advisor fitting
    val: pd.DataFrame  # advisor early stopping
    test: pd.DataFrame  # fit metrics
    time_train: pd.DataFrame  # earlier transactions: the ranking evaluation's catalog
    time_test: pd.DataFrame  # later transactions the ranking is scored on


def guide_splits(frame: pd.DataFrame, cfg: Config) -> GuideSplits:
    """Split ``frame`` as training does (same seed and fractions -> same parts)."""
    rc = cfg.recommender
    if rc.max_rows and len(frame) > rc.max_rows:
        frame = frame.sample(rc.max_rows, random_state=cfg.seed)
    train, val, test = random_split(frame, rc.split.val_fraction, rc.split.test_fraction, cfg.seed)
    time_train, time_test = time_split(frame, rc.split.time_holdout_fraction)
    return GuideSplits(frame, train, val, test, time_train, time_test)


def guide_evaluation_spec(cfg: Config, shoppers_path: str | Path) -> dict[str, Any]:
    """What a guide's metrics depend on besides the guide: the table, its split, the eval knobs."""
    rc = cfg.recommender
    return {
        "shoppers": sha256_file(shoppers_path),
        "seed": cfg.seed,
        "max_rows": rc.max_rows,
        "split": rc.split.model_dump(mode="json"),
        "ranking": {"k": rc.ranker.k, "eval_max_shoppers": rc.ranker.eval_max_shoppers},
    }


def score_guide(advisor: Any, ranker: RankerConfig, splits: GuideSplits, cfg: Config) -> dict[str, float]:
    """Fit metrics of ``advisor`` on the test part and ranking metrics of ``ranker`` (its
    catalog built on the earlier transactions, re-ranked by ``advisor``) on the later ones."""
    rc = cfg.recommender
    metrics = dict(evaluate_fit(advisor, splits.test))
    log.info("building the catalog index on the %d earlier transactions", len(splits.time_train))
    index = build_catalog(splits.time_train, ranker, rc.category_classes, rc.default_class)
    log.info("ranking %d held-out later transactions against the baselines", len(splits.time_test))
    metrics.update(evaluate_ranking(index, advisor, splits.time_train, splits.time_test, ranker, cfg.seed))
    return metrics


def train_guide(frame: pd.DataFrame, cfg: Config, model_dir: Path) -> dict[str, float]:
    """Train and evaluate both models on ``frame`` and save the guide to ``model_dir``.

    Returns:
        The metrics (fit metrics prefixed ``advisor_``, ranking metrics, timings).
    """
    rc = cfg.recommender
    start = time.perf_counter()
    splits = guide_splits(frame, cfg)
    frame = splits.frame
    log.info(
        "1/3 fitting the advisor on %d transactions (%d for early stopping)",
        len(splits.train),
        len(splits.val),
    )
    advisor, facts = train_advisor(splits.train, splits.val, rc.advisor, cfg.seed)
    log.info("advisor: %.0f s; 2/3 scoring it and the ranking", time.perf_counter() - start)
    metrics = {**facts, **score_guide(advisor, rc.ranker, splits, cfg)}
    log.info("3/3 building the shipped catalog index on all %d transactions", len(frame))
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
    return _track(cfg, root, model_dir, metrics_path, metrics, frame, Path(shoppers_path))


def _track(
    cfg: Config,
    root: Path,
    model_dir: Path,
    metrics_path: Path,
    metrics: dict[str, float],
    frame: pd.DataFrame,
    shoppers_path: Path,
) -> FitRecommenderResult:
    from fitting_room.recommender.mlflow_models import log_guide_model
    from fitting_room.recommender.predict import load_guide
    from fitting_room.tracking.promotion import evaluation_digest, register_and_gate
    from fitting_room.tracking.roles import GUIDE

    rc = cfg.recommender

    def rescore(uri: str) -> dict[str, float]:
        """The champion guide's metrics on this run's splits (its advisor, its ranking knobs)."""
        log.info("the champion was scored on other data: re-scoring %s on this run's", uri)
        champion = load_guide(cfg, uri)
        same_eval = {"k": rc.ranker.k, "eval_max_shoppers": rc.ranker.eval_max_shoppers}
        ranker = champion.ranker.model_copy(update=same_eval)
        return score_guide(champion.advisor, ranker, guide_splits(frame, cfg), cfg)

    log.info("logging to MLflow, registering the guide and applying the gate")
    spec = guide_evaluation_spec(cfg, shoppers_path)
    promotion = register_and_gate(
        cfg,
        "fit_recommender",
        GUIDE,
        metrics,
        rc.gate,
        lambda: log_guide_model(model_dir),
        eval_digest=evaluation_digest(spec),
        rescore=rescore,
        artifacts=[metrics_path],
        params={"recommender": rc.model_dump(mode="json", exclude={"category_classes"})},
        root=root,
        inputs={"shoppers": shoppers_path},  # trained on its splits and scored on the held-out ones
        input_context="training",
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
