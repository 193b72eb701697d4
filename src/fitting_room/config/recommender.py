"""Config section of the shopping guide (``recommender:``): fit advisor, ranker, evaluation, gate."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fitting_room.config.base import Section
from fitting_room.config.data import FASHION_MNIST_CLASSES
from fitting_room.config.gate import GateConfig


class AdvisorConfig(Section):
    """Gradient-boosted fit advisor: P(small), P(fit), P(large) for (shopper, item, size)."""

    n_folds: int = Field(5, ge=2, le=20)  # folds for out-of-fold target statistics
    smoothing: float = Field(10.0, ge=0)  # pseudo-count pulling per-item/shopper fit rates to the mean
    num_boost_round: int = Field(600, ge=1)  # maximum boosting rounds per binary model
    early_stopping_rounds: int = Field(40, ge=1)  # stop when validation loss stalls this long
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(63, ge=2)
    min_data_in_leaf: int = Field(40, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    lambda_l2: float = Field(1.0, ge=0)
    max_sizes_per_item: int = Field(12, ge=1)  # most-rented sizes of an item considered when advising
    num_threads: int = Field(2, ge=1)  # LightGBM threads for training
    # which size-derived features the trees are constrained along (P(small) falling, P(large)
    # rising): all of them, only the size-relative ones (raw size free), or none. Predictions
    # are projected onto size-monotone curves in every case, so this trades accuracy only.
    monotone_constraints: Literal["all", "relative", "none"] = "all"
    # how LightGBM enforces those constraints: "basic" bounds every leaf very conservatively
    # (trees then avoid the constrained features), "intermediate"/"advanced" bound them less
    monotone_method: Literal["basic", "intermediate", "advanced"] = "intermediate"
    monotone_penalty: float = Field(0.0, ge=0)  # discourages splits on constrained features near the root


class RankerConfig(Section):
    """Catalog ranking: feature towers + history over the catalog, then a fit-aware re-rank."""

    k: int = Field(10, ge=1)  # items returned by default and the cut-off of Recall/NDCG
    candidates: int = Field(100, ge=1)  # items re-ranked with the fit advisor
    recency_half_life_days: float = Field(30.0, gt=0)  # half-life of the decayed popularity, days
    occasion_prior: float = Field(20.0, ge=0)  # pseudo-count mixing overall into per-occasion popularity
    body_shrinkage: float = Field(20.0, ge=0)  # pseudo-count shrinking an item's body profile to 0
    knn_neighbours: int = Field(50, ge=1)  # neighbours kept per item in the item-kNN similarity
    category_prior: float = Field(2.0, gt=0)  # pseudo-count mixing overall category shares into preferences
    eval_max_shoppers: int = Field(3000, ge=1)  # shoppers sampled for the ranking evaluation
    min_fit_probability: float = Field(0.02, gt=0, lt=1)  # floor of P(fit) inside the log
    # catalogs with at least this many items retrieve through the approximate-nearest-neighbour
    # index (usearch HNSW over the inner-product vectors); smaller ones score every item exactly
    ann_min_items: int = Field(50_000, ge=1)
    ann_connectivity: int = Field(16, ge=2, le=128)  # HNSW links per node ("M")
    ann_expansion_add: int = Field(128, ge=1)  # HNSW candidate list while inserting ("efConstruction")
    ann_expansion_search: int = Field(512, ge=1)  # HNSW candidate list per query ("ef"); recall vs time
    # weights of the score terms (log-popularity, log-occasion share, body affinity,
    # category preference, history similarity, log of the best P(fit))
    w_popularity: float = 1.0
    w_occasion: float = 1.0
    w_body: float = 0.3
    w_category: float = 1.0
    w_history: float = 1.0
    w_fit: float = 1.0


class SplitConfig(Section):
    val_fraction: float = Field(0.1, gt=0, lt=0.5)  # random share of transactions for early stopping
    test_fraction: float = Field(0.1, gt=0, lt=0.5)  # random share held out for the fit metrics
    time_holdout_fraction: float = Field(0.1, gt=0, lt=0.5)  # latest share (by date) for ranking eval


class RecommenderConfig(Section):
    model_dir: Path = Path("models/recommender")  # saved advisor + ranker + preprocessing
    reports_dir: Path = Path("reports/recommender")  # metrics.json (DVC metrics)
    max_rows: int | None = Field(None, gt=0)  # train on a random subsample of N rows; None = all
    advisor: AdvisorConfig = AdvisorConfig()
    ranker: RankerConfig = RankerConfig()
    split: SplitConfig = SplitConfig()
    # item category (lower-case, as published) -> generator class, for generated previews
    category_classes: dict[str, str] = Field(default_factory=dict)
    default_class: str = "dress"  # generator class of categories not in the map
    # fewest shoppers with a measurement for the try-on imputer to fit a model of it (else: prior)
    body_min_rows: int = Field(100, ge=3)
    gate: GateConfig = GateConfig()

    @model_validator(mode="after")
    def _known_classes(self) -> RecommenderConfig:
        bad = {c: g for c, g in self.category_classes.items() if g not in FASHION_MNIST_CLASSES}
        if self.default_class not in FASHION_MNIST_CLASSES:
            bad["<default_class>"] = self.default_class
        if bad:
            raise ValueError(
                f"recommender.category_classes: unknown generator class(es) {bad}; "
                f"known: {list(FASHION_MNIST_CLASSES)}"
            )
        return self
