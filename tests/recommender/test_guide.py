"""The public ShoppingGuide API: validated profiles, cold and warm recommendations, fit-awareness."""

from __future__ import annotations

import numpy as np
import pytest

from fitting_room.config.data import FASHION_MNIST_CLASSES
from fitting_room.config.recommender import RankerConfig
from fitting_room.errors import DataError
from fitting_room.recommender.guide import ShopperProfile, ShoppingGuide, save_guide
from fitting_room.recommender.ranker import Query, exact_candidates, fit_rerank, rank


@pytest.mark.parametrize(
    ("field", "value"), [("height_cm", 300.0), ("weight_kg", -5.0), ("age_years", 4.0), ("cup", "zz")]
)
def test_impossible_measurements_fail_naming_the_field(field, value):
    with pytest.raises(DataError, match=field):
        ShopperProfile.parse({field: value})


def test_a_brand_new_shopper_gets_distinct_catalog_items_more_popular_than_average(guide):
    items = guide.recommend(ShopperProfile(), k=5)
    positions = [guide.index.position[i["item_id"]] for i in items]  # KeyError: not in the catalog
    assert len(set(positions)) == 5
    # with nothing known about the shopper, popularity carries the ranking
    assert guide.index.log_popularity[positions].mean() > guide.index.log_popularity.mean()


def test_recommendations_are_ranked_and_carry_size_fit_and_generator_class(guide):
    items = guide.recommend(ShopperProfile(height_cm=165, weight_kg=60, occasion="wedding"), k=8)
    assert len(items) == 8
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    for item in items:
        assert item["generator_class"] in FASHION_MNIST_CLASSES
        assert item["advised_size"] in guide.advisor.sizes_for(item["item_id"], item["category"])
        assert item["p_small"] + item["p_fit"] + item["p_large"] == pytest.approx(1.0)


def test_category_map_gives_each_item_its_generator_class(guide):
    index = guide.index
    expected = {"dress": "dress", "pants": "trouser", "top": "t-shirt/top"}
    for cat, cls in zip(index.categories, index.generator_classes, strict=True):
        assert cls == expected.get(cat, "coat")


def test_history_items_are_not_recommended_again_and_unknown_ids_are_ignored(guide):
    history = tuple(guide.index.item_ids[:5])
    profile = ShopperProfile(user_id="u1", history=(*history, "not-an-item"))
    ids = {i["item_id"] for i in guide.recommend(profile, k=20)}
    assert not ids & set(history)


def test_stated_category_preferences_shift_the_ranking(guide):
    top_dresses = guide.recommend(ShopperProfile(categories=("pants",)), k=10)
    plain = guide.recommend(ShopperProfile(), k=10)
    share = lambda items: np.mean([i["category"] == "pants" for i in items])  # noqa: E731
    assert share(top_dresses) > share(plain)


def test_fit_aware_rerank_pushes_down_items_unlikely_to_fit(guide):
    queries = [
        Query({"height_cm": 150.0, "weight_kg": 45.0}),
        Query({"height_cm": 185.0, "weight_kg": 110.0}),
    ]
    aware = RankerConfig(candidates=60, w_fit=5.0)
    # a negligible fit weight keeps the retrieval order but still reports every candidate's P(fit)
    unaware = aware.model_copy(update={"w_fit": 1e-9})
    for fit_aware, plain in zip(
        rank(guide.index, queries, aware, 10, guide.catalog_fit),
        rank(guide.index, queries, unaware, 10, guide.catalog_fit),
        strict=True,
    ):
        assert fit_aware.proba[:, 1].mean() > plain.proba[:, 1].mean()


@pytest.mark.parametrize("w_fit", [1.0, 5.0, -1.0])
def test_the_pruned_fit_rerank_ranks_exactly_as_asking_about_every_candidate(guide, w_fit):
    """The re-rank asks the advisor only about candidates that can still reach the top k; the
    top k, order, scores and advice must be those of asking the advisor about all of them,
    computed here without ``fit_rerank``."""
    rng = np.random.default_rng(0)
    ids = guide.index.item_ids
    queries = [
        Query(
            {"height_cm": float(rng.uniform(150, 185)), "weight_kg": float(rng.uniform(45, 100))},
            occasion=str(rng.choice(guide.index.occasions)) if i % 2 else None,
            history=tuple(str(x) for x in rng.choice(ids, i % 4, replace=False)),
        )
        for i in range(40)
    ]
    cfg = RankerConfig(candidates=60, w_fit=w_fit)
    asked = []
    cand, scores = exact_candidates(guide.index, queries, cfg, 60)
    ranked = rank(guide.index, queries, cfg, 10, guide.catalog_fit)
    for q, got, c, sc in zip(queries, ranked, cand, scores, strict=True):
        proba, advised = guide.catalog_fit.advise(q.advisor_shopper(), c)
        final = sc + w_fit * np.log(np.maximum(proba[:, 1], cfg.min_fit_probability))
        top = np.argsort(-final, kind="stable")[:10]
        np.testing.assert_array_equal(got.items, c[top])
        np.testing.assert_array_equal(got.scores, final[top])
        np.testing.assert_array_equal(got.advised_size, advised[top])
        np.testing.assert_array_equal(got.proba, proba[top])
        pruned, _, _ = fit_rerank(guide.catalog_fit, q.advisor_shopper(), c, sc, cfg, 10)
        asked.append(int(np.isfinite(pruned).sum()))
    if w_fit < 0:  # a negative weight can lift any candidate: every one is asked
        assert set(asked) == {60}
    elif w_fit == 1.0:  # at the default weight most queries need far fewer than all 60
        assert np.median(asked) < 40, asked


def test_advise_returns_probabilities_per_size_and_the_best_one(guide):
    item = str(guide.index.item_ids[0])
    answer = guide.advise(ShopperProfile(height_cm=168, weight_kg=62), item, sizes=[2, 8, 14])
    p_fit = [s["p_fit"] for s in answer["sizes"]]
    assert p_fit[[2, 8, 14].index(answer["advised_size"])] == max(p_fit)  # ties: nearest expected size
    with pytest.raises(DataError, match="sizes"):
        guide.advise(ShopperProfile(), item, sizes=[-3])


def test_unknown_item_is_advised_from_overall_sizes(guide):
    shopper = ShopperProfile(weight_kg=70)
    answer = guide.advise(shopper, "brand-new-item")
    overall = guide.advisor.sizes_for("brand-new-item", None)
    assert answer["category"] is None
    assert [s["size"] for s in answer["sizes"]] == overall and answer["advised_size"] in overall
    assert guide.advise(shopper, "another-new-item")["sizes"] == answer["sizes"]  # no per-item guess


def test_guide_round_trips_through_its_folder(guide, tmp_path):
    save_guide(tmp_path / "g", guide.advisor, guide.index, guide.ranker, {"rows": 1})
    loaded = ShoppingGuide.load(tmp_path / "g")
    profile = ShopperProfile(height_cm=170, weight_kg=70, occasion="party")
    assert loaded.recommend(profile, k=5) == guide.recommend(profile, k=5)
    with pytest.raises(DataError, match="guide.json"):
        ShoppingGuide.load(tmp_path)
