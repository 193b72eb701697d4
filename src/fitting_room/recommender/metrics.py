"""Metric registry of the shopping guide: the same functions score training, the stage and benchmarks.

Each metric takes arrays and returns a flat ``{name: float}`` dict; callers add prefixes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from fitting_room.recommender.features import FIT_LABELS

METRICS: dict[str, Callable[..., dict[str, float]]] = {}


def register_metric(name: str) -> Callable:
    """Add a metric function to :data:`METRICS` under ``name``."""

    def wrap(fn: Callable[..., dict[str, float]]) -> Callable[..., dict[str, float]]:
        METRICS[name] = fn
        return fn

    return wrap


@register_metric("fit_classification")
def fit_classification(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """One-vs-rest AUC per fit class and their mean (the paper's measure), macro-F1, accuracy.

    Args:
        y: class codes 0/1/2 (small/fit/large).
        proba: (n, 3) predicted probabilities.
    """
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    out: dict[str, float] = {}
    aucs = []
    for k, label in enumerate(FIT_LABELS):
        positives = y == k
        auc = roc_auc_score(positives, proba[:, k]) if 0 < positives.sum() < len(y) else float("nan")
        out[f"auc_{label}"] = float(auc)
        aucs.append(auc)
    out["auc_macro"] = float(np.nanmean(aucs))
    pred = proba.argmax(axis=1)
    out["macro_f1"] = float(f1_score(y, pred, average="macro", labels=[0, 1, 2], zero_division=0))
    out["accuracy"] = float(accuracy_score(y, pred))
    return out


@register_metric("ranking")
def ranking(ranked: Sequence[np.ndarray], targets: Sequence[set], k: int) -> dict[str, float]:
    """Mean Recall@k and NDCG@k (binary relevance) over queries.

    Args:
        ranked: per query, item indices best first (at least ``k`` are read).
        targets: per query, the set of relevant item indices (queries without any are skipped).
        k: cut-off.
    """
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recalls, ndcgs = [], []
    for items, relevant in zip(ranked, targets, strict=True):
        if not relevant:
            continue
        hits = np.fromiter((i in relevant for i in items[:k]), dtype=float, count=min(k, len(items)))
        recalls.append(hits.sum() / len(relevant))
        ideal = discounts[: min(len(relevant), k)].sum()
        ndcgs.append(float((hits * discounts[: len(hits)]).sum() / ideal))
    if not recalls:
        return {f"recall_at_{k}": float("nan"), f"ndcg_at_{k}": float("nan"), "queries": 0.0}
    return {f"recall_at_{k}": float(np.mean(recalls)), f"ndcg_at_{k}": float(np.mean(ndcgs)),
            "queries": float(len(recalls))}  # fmt: skip


@register_metric("fit_rate_evidence")
def fit_rate_evidence(y: np.ndarray, size: np.ndarray, advised: np.ndarray) -> dict[str, float]:
    """Actual fit rate where the rented size was the advised one, where it was not, and overall.

    A higher rate on the first slice than the base rate is the "fewer returns" evidence.
    """
    fit = y == 1
    same = np.isclose(size, advised) & ~np.isnan(advised)
    return {
        "fit_rate_advised_size": float(fit[same].mean()) if same.any() else float("nan"),
        "fit_rate_other_size": float(fit[~same].mean()) if (~same).any() else float("nan"),
        "fit_rate_base": float(fit.mean()) if len(fit) else float("nan"),
        "share_rented_advised_size": float(same.mean()) if len(same) else float("nan"),
    }
