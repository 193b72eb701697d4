"""Ranking the catalog for a shopper: feature-tower retrieval, then a fit-aware re-rank.

Retrieval scores every item with one vectorised sum of log-linear terms:

``w_popularity * log decayed popularity + w_occasion * log P(item | occasion)
+ w_body * <user tower, item tower> + w_category * log category lift
+ w_history * sum of kNN similarities to the shopper's past rentals``

A brand-new shopper still gets a score from body, occasion and stated categories; history
only adds. The top ``candidates`` are then re-ranked with the fit advisor:
``+ w_fit * log max_size P(fit)``, so items the shopper is unlikely to fit in any available
size sink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fitting_room.config.recommender import RankerConfig
from fitting_room.recommender.catalog import BODY, CatalogIndex
from fitting_room.recommender.catalog_fit import CatalogFit

SHOPPER_COLUMNS = (*BODY, "body_type", "rented_for", "user_id", "bust_cm", "shoe_size")


@dataclass(frozen=True)
class Query:
    """What the ranker knows about one shopper at request time."""

    shopper: dict  # shopper columns (SHOPPER_COLUMNS); missing values as None/NaN
    occasion: str | None = None
    categories: tuple[str, ...] = ()  # stated category preferences
    history: tuple[str, ...] = ()  # item ids rented before (may include unknown ids)


@dataclass(frozen=True)
class Ranking:
    items: np.ndarray  # item positions in the index, best first
    scores: np.ndarray
    advised_size: np.ndarray  # NaN when the advisor was not used
    proba: np.ndarray = field(repr=False)  # (k, 3) small/fit/large at the advised size


def retrieval_scores(index: CatalogIndex, queries: list[Query], cfg: RankerConfig) -> np.ndarray:
    """(n_queries, n_items) retrieval scores; items the shopper already rented get -inf."""
    n = len(index)
    body = np.array([[_num(q.shopper.get(c)) for c in BODY] for q in queries], dtype=float).reshape(
        -1, len(BODY)
    )
    z = index.standardise_body(body)
    scores = cfg.w_popularity * index.log_popularity[None, :] + cfg.w_body * (z @ index.item_body.T)

    occ_pos = {o: i for i, o in enumerate(index.occasions)}
    cat_pos = {c: i for i, c in enumerate(index.category_vocab)}
    known_cat = index.category_codes >= 0
    for row, q in enumerate(queries):
        if q.occasion in occ_pos:
            scores[row] += cfg.w_occasion * index.log_occasion[occ_pos[q.occasion]]
        hist = index.indices(list(q.history))
        stated = [cat_pos[c] for c in q.categories if c in cat_pos]
        liked = stated + [int(c) for c in index.category_codes[hist] if c >= 0]
        if liked:
            counts = np.bincount(liked, minlength=len(cat_pos)).astype(float)
            share = (counts + cfg.category_prior * index.category_share) / (counts.sum() + cfg.category_prior)
            lift = np.log(share / index.category_share)
            scores[row, known_cat] += cfg.w_category * lift[index.category_codes[known_cat]]
        if len(hist):
            neigh, sims = index.neighbours[hist].ravel(), index.similarities[hist].ravel()
            ok = neigh >= 0
            scores[row] += cfg.w_history * np.bincount(neigh[ok], weights=sims[ok], minlength=n)
            scores[row, hist] = -np.inf
    return scores


def rank(
    index: CatalogIndex,
    queries: list[Query],
    cfg: RankerConfig,
    k: int,
    fit: CatalogFit | None = None,
) -> list[Ranking]:
    """Top-``k`` items per query; with the catalog's fit advisor, the top candidates are re-ranked by fit."""
    scores = retrieval_scores(index, queries, cfg)
    n_cand = min(max(cfg.candidates, k), len(index))
    cand = np.argpartition(-scores, n_cand - 1, axis=1)[:, :n_cand]
    cand_scores = np.take_along_axis(scores, cand, axis=1)
    advised = np.full(cand.shape, np.nan)
    proba = np.full((*cand.shape, 3), np.nan)
    if fit is not None and cfg.w_fit != 0:
        for row, q in enumerate(queries):
            shopper = {**q.shopper, "rented_for": q.occasion or q.shopper.get("rented_for")}
            proba[row], advised[row] = fit.advise(shopper, cand[row])
        cand_scores = cand_scores + cfg.w_fit * np.log(np.maximum(proba[:, :, 1], cfg.min_fit_probability))
    out = []
    for row in range(len(queries)):
        order = np.argsort(-cand_scores[row], kind="stable")[:k]
        order = order[np.isfinite(cand_scores[row, order])]
        out.append(Ranking(cand[row, order], cand_scores[row, order], advised[row, order], proba[row, order]))
    return out


def _num(value: Any) -> float:
    try:
        return float(value) if value is not None else np.nan
    except (TypeError, ValueError):
        return np.nan
