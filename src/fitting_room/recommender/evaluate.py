"""Offline evaluation of the shopping guide: fit metrics on a random split, ranking on a time split."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from fitting_room.config.recommender import RankerConfig
from fitting_room.recommender.advisor import FitAdvisor, build_size_chart
from fitting_room.recommender.baselines import BASELINES, baseline_scores, top_k
from fitting_room.recommender.catalog import CatalogIndex
from fitting_room.recommender.catalog_fit import CatalogFit
from fitting_room.recommender.features import compute_stats, fit_codes
from fitting_room.recommender.metrics import METRICS
from fitting_room.recommender.ranker import SHOPPER_COLUMNS, Query, rank

# held-out shoppers scored at once: every ranker and baseline builds (shoppers, items) float
# matrices, so scoring all eval_max_shoppers together grew with the catalog (at 4x RTR, 3,000 x
# 23k items: most of fit_recommender's 2.6 GB peak); batches keep it to (256, items)
EVAL_BATCH = 256


def evaluate_fit(advisor: FitAdvisor, test: pd.DataFrame) -> dict[str, float]:
    """Advisor metrics on labelled held-out transactions, prefixed ``advisor_``.

    Includes the "fewer returns" evidence: the actual fit rate where the rented size was the
    advised size vs where it was not, vs the base rate.
    """
    test = test[fit_codes(test["fit"]) >= 0]
    y = fit_codes(test["fit"])
    proba, advised = advisor.advise(test)
    out = METRICS["fit_classification"](y, proba)
    out.update(METRICS["fit_rate_evidence"](y, test["size"].to_numpy(dtype=float), advised))
    out["test_rows"] = float(len(test))
    return {f"advisor_{k}": v for k, v in out.items()}


def build_queries(
    train: pd.DataFrame, test: pd.DataFrame, index: CatalogIndex, max_shoppers: int, seed: int
) -> tuple[list[Query], list[set], np.ndarray]:
    """One query per held-out shopper: body from the request, occasion, history from before.

    The occasion is the shopper's most frequent "rented for" in the held-out part (what a
    shopper states when asking); categories are *not* taken from the held-out part, only from
    history, so the model sees no more than a real request would.

    Returns:
        ``(queries, relevant item positions, is_cold)``; shoppers whose held-out items are all
        new to the catalog are dropped (nothing could be recommended).
    """
    history = train.groupby("user_id")["item_id"].agg(tuple)
    users = test["user_id"].drop_duplicates()
    if len(users) > max_shoppers:
        users = users.sample(max_shoppers, random_state=seed)
    held = test[test["user_id"].isin(set(users))].sort_values("review_date", kind="stable")
    queries, targets, cold = [], [], []
    for user, rows in held.groupby("user_id", sort=True):
        relevant = set(index.indices(rows["item_id"].astype(str).tolist()).tolist())
        if not relevant:
            continue
        first = rows.iloc[0]
        shopper = {c: first.get(c) for c in SHOPPER_COLUMNS if c in rows}
        occasion = rows["rented_for"].mode()
        past = history.get(user, ())
        queries.append(Query(shopper, occasion.iloc[0] if len(occasion) else None, (), tuple(past)))
        targets.append(relevant)
        cold.append(len(past) == 0)
    return queries, targets, np.array(cold, dtype=bool)


def evaluate_ranking(
    index: CatalogIndex,
    advisor: FitAdvisor | None,
    train: pd.DataFrame,
    test: pd.DataFrame,
    cfg: RankerConfig,
    seed: int,
) -> dict[str, float]:
    """Recall@k / NDCG@k of the recommender and the baselines, overall, cold and warm.

    The advisor's statistics and size chart are recomputed from ``train`` so that nothing
    after the time cut-off leaks into the fit-aware re-rank.

    Returns:
        Flat metrics such as ``recall_at_10``, ``recall_at_10_cold``,
        ``popularity_recall_at_10_warm``, ``item_knn_ndcg_at_10_warm`` and slice sizes.
    """
    if advisor is not None:
        advisor = dataclasses.replace(
            advisor,
            stats=compute_stats(train, advisor.smoothing),
            size_chart=build_size_chart(train, advisor.max_sizes),
        )
    queries, targets, cold = build_queries(train, test, index, cfg.eval_max_shoppers, seed)
    k = cfg.k
    pos = index.indices(train["item_id"].astype(str).tolist())
    counts = np.bincount(pos, minlength=len(index)).astype(float)
    occ_codes = pd.Categorical(train["rented_for"], categories=index.occasions).codes
    occ_counts = np.stack(
        [np.bincount(pos[occ_codes == o], minlength=len(index)) for o in range(len(index.occasions))]
    ).astype(float)

    fit = CatalogFit.build(advisor, index) if advisor is not None else None
    rankings: dict[str, list[np.ndarray]] = {
        "": [],
        "retrieval_only_": [],
        **{f"{n}_": [] for n in BASELINES},
    }
    for start in range(
        0, len(queries), EVAL_BATCH
    ):  # each row is scored on its own: batching changes nothing
        batch = queries[start : start + EVAL_BATCH]
        rankings[""] += [r.items for r in rank(index, batch, cfg, k, fit)]
        rankings["retrieval_only_"] += [r.items for r in rank(index, batch, cfg, k, None)]
        for name in BASELINES:
            rankings[f"{name}_"] += top_k(baseline_scores(name, index, counts, occ_counts, batch), k)

    out: dict[str, float] = {}
    for prefix, ranked in rankings.items():
        for slice_name, mask in (("", np.ones(len(queries), bool)), ("_cold", cold), ("_warm", ~cold)):
            picked = np.flatnonzero(mask)
            m = METRICS["ranking"]([ranked[i] for i in picked], [targets[i] for i in picked], k)
            out[f"{prefix}recall_at_{k}{slice_name}"] = m[f"recall_at_{k}"]
            out[f"{prefix}ndcg_at_{k}{slice_name}"] = m[f"ndcg_at_{k}"]
    out["ranking_shoppers"] = float(len(queries))
    out["ranking_shoppers_cold"] = float(cold.sum())
    out["ranking_shoppers_warm"] = float((~cold).sum())
    pop = out.get(f"popularity_recall_at_{k}") or float("nan")
    out[f"recall_at_{k}_vs_popularity"] = out[f"recall_at_{k}"] / pop if pop else float("nan")
    return out
