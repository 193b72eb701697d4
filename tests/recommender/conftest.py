"""Builders shared by the shopping-guide tests: synthetic shoppers and one small trained guide."""

from __future__ import annotations

import pytest

from fitting_room.config.recommender import AdvisorConfig, RankerConfig
from fitting_room.recommender.advisor import train_advisor
from fitting_room.recommender.catalog import build_catalog
from fitting_room.recommender.guide import ShoppingGuide
from fitting_room.recommender.splits import random_split
from fitting_room.recommender.synthetic import make_shoppers

SMALL_ADVISOR = AdvisorConfig(
    num_boost_round=120, num_leaves=15, min_data_in_leaf=10, n_folds=3, num_threads=1
)


@pytest.fixture(scope="session")
def synthetic():
    """(transactions, shoppers truth, items truth) of a small synthetic shop."""
    return make_shoppers(n_transactions=3000, n_shoppers=600, n_items=80, seed=3)


@pytest.fixture(scope="session")
def trained(synthetic):
    """An advisor trained on 80 % of the synthetic shop, plus its held-out 10 %."""
    tx, _, _ = synthetic
    train, val, test = random_split(tx, 0.1, 0.1, seed=0)
    advisor, _ = train_advisor(train, val, SMALL_ADVISOR, seed=0)
    return advisor, test


@pytest.fixture(scope="session")
def guide(synthetic, trained):
    tx, _, _ = synthetic
    index = build_catalog(
        tx, RankerConfig(), {"dress": "dress", "pants": "trouser", "top": "t-shirt/top"}, "coat"
    )
    return ShoppingGuide(trained[0], index, RankerConfig(candidates=40), {})
