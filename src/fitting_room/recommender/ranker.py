"""Ranking the catalog for a shopper: feature-tower retrieval, then a fit-aware re-rank.

Retrieval scores items with a sum of log-linear terms:

``w_popularity * log decayed popularity + w_occasion * log P(item | occasion)
+ w_body * <user tower, item tower> + w_category * log category lift
+ w_history * sum of kNN similarities to the shopper's past rentals``

A brand-new shopper still gets a score from body, occasion and stated categories; history
only adds. All terms but the history one are an inner product of a shopper vector and an item
vector (:mod:`.retrieval`), so a large catalog retrieves its candidates through an
approximate-nearest-neighbour index and a small one scores every item exactly.

The top ``candidates`` are then re-ranked with the fit advisor: ``+ w_fit * log max_size
P(fit)``, so items the shopper is unlikely to fit in any available size sink.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fitting_room.config.recommender import RankerConfig
from fitting_room.recommender.catalog import BODY, CatalogIndex
from fitting_room.recommender.catalog_fit import CatalogFit
from fitting_room.recommender.retrieval import AnnIndex, dense_scores, shopper_vectors

SHOPPER_COLUMNS = (*BODY, "body_type", "rented_for", "user_id", "bust_cm", "shoe_size")


@dataclass(frozen=True)
class Query:
    """What the ranker knows about one shopper at request time."""

    shopper: dict  # shopper columns (SHOPPER_COLUMNS); missing values as None/NaN
    occasion: str | None = None
    categories: tuple[str, ...] = ()  # stated category preferences
    history: tuple[str, ...] = ()  # item ids rented before (may include unknown ids)

    def advisor_shopper(self) -> dict:
        """The shopper as the fit advisor sees her: the stated occasion is what she rents for."""
        return {**self.shopper, "rented_for": self.occasion or self.shopper.get("rented_for")}


@dataclass(frozen=True)
class Ranking:
    items: np.ndarray  # item positions in the index, best first
    scores: np.ndarray
    advised_size: np.ndarray  # NaN when the advisor was not used
    proba: np.ndarray = field(repr=False)  # (k, 3) small/fit/large at the advised size


def retrieval_scores(index: CatalogIndex, queries: list[Query], cfg: RankerConfig) -> np.ndarray:
    """(n_queries, n_items) exact retrieval scores; items the shopper already rented get -inf.

    The dense terms are one inner product of shopper and item vectors (:mod:`.retrieval`),
    the history term is added per shopper.
    """
    vectors = shopper_vectors(index, queries, cfg)
    scores = np.empty((len(queries), len(index)))
    for row, q in enumerate(queries):
        scores[row] = dense_scores(index, vectors[row])
        hist = index.indices(list(q.history))
        if len(hist):
            neigh, sims = index.neighbours[hist].ravel(), index.similarities[hist].ravel()
            ok = neigh >= 0
            scores[row] += cfg.w_history * np.bincount(neigh[ok], weights=sims[ok], minlength=len(index))
            scores[row, hist] = -np.inf
    return scores


def exact_candidates(
    index: CatalogIndex, queries: list[Query], cfg: RankerConfig, n_cand: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n_cand`` positions and scores per query, by scoring every item."""
    scores = retrieval_scores(index, queries, cfg)
    cand = np.argpartition(-scores, n_cand - 1, axis=1)[:, :n_cand]
    return cand, np.take_along_axis(scores, cand, axis=1)


def ann_candidates(
    index: CatalogIndex, ann: AnnIndex, queries: list[Query], cfg: RankerConfig, n_cand: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n_cand`` positions and scores per query, retrieved through the ANN index.

    The index returns the best ``n_cand + len(history)`` items by the dense score (history
    items are dropped afterwards, so ``n_cand`` non-history items remain); the kNN neighbours
    of the history join them, and every candidate gets its exact full score. With an exact
    index this equals :func:`exact_candidates` whenever ``w_history >= 0``: an item outside
    both sets has no history term and is beaten by ``n_cand`` retrieved items.
    Rows with fewer candidates are padded with -inf scores.
    """
    vectors = shopper_vectors(index, queries, cfg)
    cand = np.zeros((len(queries), n_cand), dtype=np.int64)
    cand_scores = np.full((len(queries), n_cand), -np.inf)
    for row, q in enumerate(queries):
        hist = index.indices(list(q.history))
        found = ann.search(vectors[row], n_cand + len(hist))
        neigh, sims = index.neighbours[hist].ravel(), index.similarities[hist].ravel()
        ok = neigh >= 0
        pool = np.union1d(found, neigh[ok])
        scores = dense_scores(index, vectors[row], pool)
        if len(hist):
            at = np.searchsorted(pool, neigh[ok])
            scores += cfg.w_history * np.bincount(at, weights=sims[ok], minlength=len(pool))
            scores[np.isin(pool, hist)] = -np.inf
        top = np.argsort(-scores, kind="stable")[:n_cand]
        cand[row, : len(top)], cand_scores[row, : len(top)] = pool[top], scores[top]
    return cand, cand_scores


def rank(
    index: CatalogIndex,
    queries: list[Query],
    cfg: RankerConfig,
    k: int,
    fit: CatalogFit | None = None,
    ann: AnnIndex | None = None,
    prune: bool = True,
) -> list[Ranking]:
    """Top-``k`` items per query; with the catalog's fit advisor, the top candidates are re-ranked by fit.

    Args:
        ann: the catalog's ANN index: candidates are retrieved through it instead of scoring
            every item (the guide passes it for catalogs of ``cfg.ann_min_items`` or more).
        prune: ask the advisor only about the candidates that can still reach the top ``k``
            (:func:`fit_rerank`); False asks about every candidate. Both give the same ranking.
    """
    n_cand = min(max(cfg.candidates, k), len(index))
    if ann is None:
        cand, cand_scores = exact_candidates(index, queries, cfg, n_cand)
    else:
        cand, cand_scores = ann_candidates(index, ann, queries, cfg, n_cand)
    advised = np.full(cand.shape, np.nan)
    proba = np.full((*cand.shape, 3), np.nan)
    if fit is not None and cfg.w_fit != 0:
        final = np.empty_like(cand_scores)
        for row, q in enumerate(queries):
            final[row], proba[row], advised[row] = fit_rerank(
                fit, q.advisor_shopper(), cand[row], cand_scores[row], cfg, k if prune else len(cand[row])
            )
        cand_scores = final
    out = []
    for row in range(len(queries)):
        order = np.argsort(-cand_scores[row], kind="stable")[:k]
        order = order[np.isfinite(cand_scores[row, order])]
        out.append(Ranking(cand[row, order], cand_scores[row, order], advised[row, order], proba[row, order]))
    return out


def fit_rerank(
    fit: CatalogFit, shopper: dict, cand: np.ndarray, scores: np.ndarray, cfg: RankerConfig, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Retrieval scores plus ``w_fit * log P(fit)``, for the candidates that can reach the top ``k``.

    With ``w_fit > 0`` the fit term is never positive (P(fit) <= 1), so a candidate whose
    retrieval score is below the ``k``-th best final score found so far cannot enter the top
    ``k``. The advisor (LightGBM over candidates x sizes, most of a request's time) is asked
    about the best ``2k`` candidates by retrieval first, then once more about those still above
    that bound; the rest keep a final score of -inf (never in the top ``k``). The top ``k``,
    their order, scores and advice are those of asking about every candidate (``k`` = all).

    Returns:
        ``(final scores, proba (m, 3), advised size)``; NaN advice where the advisor was not asked.
    """
    final = np.full(len(cand), -np.inf)
    proba = np.full((len(cand), 3), np.nan)
    advised = np.full(len(cand), np.nan)
    ranked = np.argsort(-scores, kind="stable")
    ranked = ranked[np.isfinite(scores[ranked])]  # padding of short candidate lists
    take = ranked if cfg.w_fit < 0 else ranked[: 2 * k]
    asked = 0  # ``ranked[:asked]`` have been put to the advisor
    while len(take):
        proba[take], advised[take] = fit.advise(shopper, cand[take])
        final[take] = scores[take] + cfg.w_fit * np.log(np.maximum(proba[take, 1], cfg.min_fit_probability))
        asked += len(take)
        if asked < k or asked == len(ranked):
            break
        bound = np.partition(final[ranked[:asked]], -k)[-k]  # the k-th best final score so far
        rest = ranked[asked:]
        take = rest[scores[rest] >= bound]  # a prefix of ``rest``: it is in retrieval order
    return final, proba, advised
