"""Reference rankers the recommender must beat: popularity (overall, per occasion) and item-kNN CF."""

from __future__ import annotations

import numpy as np

from fitting_room.recommender.catalog import CatalogIndex
from fitting_room.recommender.ranker import Query

BASELINES = ("popularity", "popularity_occasion", "item_knn")


def baseline_scores(name: str, index: CatalogIndex, counts: np.ndarray, occasion_counts: np.ndarray,
                    queries: list[Query]) -> np.ndarray:  # fmt: skip
    """(n_queries, n_items) scores of one baseline.

    Args:
        name: one of :data:`BASELINES`.
        index: the catalog (for kNN neighbours and occasion vocabulary).
        counts: plain (undecayed) rentals per item in the training part.
        occasion_counts: (n_occasions, n_items) plain rentals per occasion.
        queries: the shoppers.

    Returns:
        Scores; already-rented items get -inf for ``item_knn`` (it knows the history).
    """
    if name not in BASELINES:
        raise ValueError(f"baseline: unknown name {name!r} (known: {', '.join(BASELINES)})")
    # popularity as a tiny tie-breaker keeps every baseline total and deterministic
    base = np.tile(counts / (counts.max() + 1.0) * 1e-3, (len(queries), 1))
    if name == "popularity":
        return base + counts[None, :]
    if name == "popularity_occasion":
        occ_pos = {o: i for i, o in enumerate(index.occasions)}
        for row, q in enumerate(queries):
            if q.occasion in occ_pos:
                base[row] += occasion_counts[occ_pos[q.occasion]]
            else:
                base[row] += counts
        return base
    for row, q in enumerate(queries):
        hist = index.indices(list(q.history))
        if not len(hist):
            base[row] += counts  # cold shopper: CF has nothing, falls back to popularity
            continue
        neigh, sims = index.neighbours[hist].ravel(), index.similarities[hist].ravel()
        ok = neigh >= 0
        base[row] += np.bincount(neigh[ok], weights=sims[ok], minlength=len(index)) * counts.max()
        base[row, hist] = -np.inf
    return base


def top_k(scores: np.ndarray, k: int) -> list[np.ndarray]:
    """Indices of the ``k`` best items per row, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return list(np.take_along_axis(part, order, axis=1))
