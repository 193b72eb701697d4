"""Offline ranking evaluation: its figures do not depend on how shoppers are batched."""

from __future__ import annotations

from fitting_room.config.recommender import RankerConfig
from fitting_room.recommender import evaluate
from fitting_room.recommender.catalog import build_catalog
from fitting_room.recommender.splits import time_split


def test_ranking_metrics_are_the_same_whatever_the_shopper_batch(synthetic, trained, monkeypatch):
    tx, _, _ = synthetic
    advisor, _ = trained
    cfg = RankerConfig(candidates=40, eval_max_shoppers=200)
    train, test = time_split(tx, 0.2)
    index = build_catalog(train, cfg, {"dress": "dress"}, "coat")

    def metrics(batch: int) -> dict[str, float]:
        monkeypatch.setattr(evaluate, "EVAL_BATCH", batch)
        return evaluate.evaluate_ranking(index, advisor, train, test, cfg, seed=0)

    whole, batched = metrics(10_000), metrics(7)  # 7: the last batch is a ragged remainder
    assert whole["ranking_shoppers"] > 7 * 3
    assert batched == whole
