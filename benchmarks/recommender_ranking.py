"""Recommender benchmark: time-ordered holdout, model vs popularity (overall, per occasion) and item-kNN.

The latest ``time_holdout_fraction`` of transactions (by review date) is held out; each
held-out shopper is one query (body, occasion, history before the cut-off). Reports
Recall@10 / NDCG@10 overall, cold (no history) and warm, for the model, retrieval without the
fit re-rank and the baselines; the ratio to popularity (target >= 1.5) and warm vs CF (target
above); index build time; and the latency of scoring one shopper over the whole catalog
(target p99 < 20 ms). Prints one JSON object.

    .venv/bin/python benchmarks/recommender_ranking.py --data ../shared/data/rtr/renttherunway_dev.json.gz
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rtr/renttherunway_dev.json.gz"))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--latency-requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from fitting_room.config import load_config
    from fitting_room.data.clothing_fit import parse_clothing_fit
    from fitting_room.recommender.advisor import train_advisor
    from fitting_room.recommender.catalog import build_catalog
    from fitting_room.recommender.evaluate import evaluate_ranking
    from fitting_room.recommender.guide import ShopperProfile, ShoppingGuide
    from fitting_room.recommender.predict import mask_implausible
    from fitting_room.recommender.splits import random_split, time_split

    cfg = load_config(args.params)
    rc = cfg.recommender
    frame = mask_implausible(parse_clothing_fit(args.data), cfg.validation.shoppers.ranges)
    train, val, _ = random_split(frame, rc.split.val_fraction, rc.split.test_fraction, args.seed)
    advisor, facts = train_advisor(train, val, rc.advisor, args.seed)
    time_train, time_test = time_split(frame, rc.split.time_holdout_fraction)
    t0 = time.perf_counter()
    index = build_catalog(time_train, rc.ranker, rc.category_classes, rc.default_class)
    out = {"data": str(args.data), "rows": len(frame), "catalog_items": len(index),
           "index_build_seconds": time.perf_counter() - t0, **facts}  # fmt: skip
    t0 = time.perf_counter()
    out.update(evaluate_ranking(index, advisor, time_train, time_test, rc.ranker, args.seed))
    out["ranking_eval_seconds"] = time.perf_counter() - t0
    k = rc.ranker.k
    out["target_recall_vs_popularity"] = 1.5
    out["warm_beats_item_knn"] = out[f"recall_at_{k}_warm"] > out[f"item_knn_recall_at_{k}_warm"]

    guide = ShoppingGuide(advisor, index, rc.ranker, {})
    rng = np.random.default_rng(args.seed)
    occasions = index.occasions
    latencies = {"with_fit_rerank": [], "retrieval_only": []}
    for mode in latencies:
        ranker = rc.ranker if mode == "with_fit_rerank" else rc.ranker.model_copy(update={"w_fit": 0.0})
        guide.ranker = ranker
        for i in range(args.latency_requests):
            profile = ShopperProfile(
                height_cm=float(rng.normal(165, 7)), weight_kg=float(rng.normal(62, 9)),
                bust_band_cm=86.4, cup="b", occasion=occasions[i % len(occasions)],
            )  # fmt: skip
            t0 = time.perf_counter()
            guide.recommend(profile, k)
            latencies[mode].append((time.perf_counter() - t0) * 1000)
    for mode, values in latencies.items():
        values = np.array(values[5:])  # the first calls warm caches
        out[f"latency_ms_p50_{mode}"] = float(np.percentile(values, 50))
        out[f"latency_ms_p99_{mode}"] = float(np.percentile(values, 99))
    out["target_latency_ms_p99"] = 20.0
    print(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
