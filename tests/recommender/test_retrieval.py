"""Catalog-scale retrieval: the inner-product form, the ANN path vs the exact path, saving, params."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fitting_room.config import ConfigError, load_config
from fitting_room.config.recommender import RankerConfig
from fitting_room.errors import DataError
from fitting_room.recommender import ranker as ranker_module
from fitting_room.recommender.catalog import BODY, CatalogIndex
from fitting_room.recommender.guide import ShopperProfile, ShoppingGuide, save_guide
from fitting_room.recommender.ranker import Query, exact_candidates, rank, retrieval_scores
from fitting_room.recommender.retrieval import ANN_FILE, AnnIndex, dense_scores, shopper_vectors
from fitting_room.recommender.synthetic import scale_catalog

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"
LARGE = 4000  # items of the scaled catalog; the ANN threshold below sits under it
ANN_RANKER = RankerConfig(candidates=100, ann_min_items=1000)


def term_by_term_scores(index: CatalogIndex, queries: list[Query], cfg: RankerConfig) -> np.ndarray:
    """The retrieval scorer as written before the inner-product form (the reference)."""
    n = len(index)
    body = np.array([[np.nan if q.shopper.get(c) is None else q.shopper[c] for c in BODY] for q in queries])
    z = index.standardise_body(body.reshape(-1, len(BODY)).astype(float))
    scores = cfg.w_popularity * index.log_popularity[None, :] + cfg.w_body * (z @ index.item_body.T)
    occ_pos = {o: i for i, o in enumerate(index.occasions)}
    cat_pos = {c: i for i, c in enumerate(index.category_vocab)}
    known_cat = index.category_codes >= 0
    for row, q in enumerate(queries):
        if q.occasion in occ_pos:
            scores[row] += cfg.w_occasion * index.log_occasion[occ_pos[q.occasion]]
        hist = index.indices(list(q.history))
        liked = [cat_pos[c] for c in q.categories if c in cat_pos] + [
            int(c) for c in index.category_codes[hist] if c >= 0
        ]
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


def shopper_queries(synthetic, index: CatalogIndex, n: int = 40, seed: int = 0) -> list[Query]:
    """Real-shaped queries: bodies and occasions of synthetic rentals; some with history/categories."""
    tx = synthetic[0]
    rng = np.random.default_rng(seed)
    rows = tx.iloc[rng.choice(len(tx), n, replace=False)]
    queries = []
    for i, (_, row) in enumerate(rows.iterrows()):
        shopper = {c: row[c] for c in BODY}
        history = tuple(rng.choice(index.item_ids, i % 4 * 2, replace=False)) if i % 2 else ()
        categories = (str(row["category"]),) if i % 3 == 0 else ()
        queries.append(Query(shopper, row["rented_for"] if i % 5 else None, categories, history))
    return queries


@pytest.fixture(scope="module")
def large_guide(guide):
    """The synthetic guide's advisor over a catalog grown to LARGE items, above the ANN threshold.

    The index is built on one thread: HNSW insertion order then is fixed and so is the graph
    (several threads build a slightly different graph each time).
    """
    index = scale_catalog(guide.index, LARGE, seed=1)
    return ShoppingGuide(
        guide.advisor, index, ANN_RANKER, {}, ann=AnnIndex.build(index, ANN_RANKER, threads=1)
    )


def test_inner_product_scores_rank_like_the_term_by_term_scorer(synthetic, guide):
    for index in (guide.index, scale_catalog(guide.index, 2000, seed=2)):
        queries = shopper_queries(synthetic, index)
        new, old = (
            retrieval_scores(index, queries, ANN_RANKER),
            term_by_term_scores(index, queries, ANN_RANKER),
        )
        assert np.array_equal(np.isinf(new), np.isinf(old))
        finite = np.isfinite(old)
        np.testing.assert_allclose(new[finite], old[finite], rtol=1e-12, atol=1e-12)
        for row in range(len(queries)):  # the new order is non-increasing under the old scores
            ranked = old[row, np.argsort(-new[row], kind="stable")]
            ranked = ranked[np.isfinite(ranked)]
            assert np.all(np.diff(ranked) <= 1e-9)


def test_dense_scores_are_the_inner_product_of_shopper_and_item_vectors(synthetic, guide):
    index = scale_catalog(guide.index, 500, seed=3)
    vectors = shopper_vectors(index, shopper_queries(synthetic, index), ANN_RANKER)
    items = index.item_vectors()
    assert items.shape == (len(index), index.vector_dims) == (len(index), vectors.shape[1])
    some = np.array([4, 0, 499, 77])
    for v in vectors:
        np.testing.assert_allclose(dense_scores(index, v), items @ v, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dense_scores(index, v, some), items[some] @ v, rtol=1e-12, atol=1e-12)


def test_ann_and_exact_paths_return_the_same_top_k_above_the_threshold(synthetic, large_guide):
    assert large_guide.ann is not None and len(large_guide.ann) == LARGE
    queries = shopper_queries(synthetic, large_guide.index, n=60)
    fit = large_guide.catalog_fit
    exact = rank(large_guide.index, queries, ANN_RANKER, 10, fit)
    approx = rank(large_guide.index, queries, ANN_RANKER, 10, fit, large_guide.ann)
    same = [a.items.tolist() == e.items.tolist() for a, e in zip(approx, exact, strict=True)]
    assert np.mean(same) >= 0.95, f"top-10 differs for {len(same) - sum(same)} of {len(same)} shoppers"
    # the candidate sets themselves: recall of the exact top 100 through the index
    want, _ = exact_candidates(large_guide.index, queries, ANN_RANKER, 100)
    got, _ = ranker_module.ann_candidates(large_guide.index, large_guide.ann, queries, ANN_RANKER, 100)
    recall = np.mean([len(set(g) & set(w)) / 100 for g, w in zip(got.tolist(), want.tolist(), strict=True)])
    assert recall >= 0.95


def test_history_items_are_excluded_and_their_neighbours_retrieved_on_the_ann_path(large_guide):
    index = large_guide.index
    history = tuple(index.item_ids[[3, 17, 2500]])
    items = large_guide.recommend(ShopperProfile(history=history), k=20)
    assert not {i["item_id"] for i in items} & set(history)
    # with a heavy history weight the exact top 100 is mostly the history's kNN neighbours,
    # which the dense search alone does not find: they must come in through the join
    heavy = ANN_RANKER.model_copy(update={"w_history": 100.0})
    query = Query({}, history=history)
    want, _ = exact_candidates(index, [query], heavy, 100)
    got, _ = ranker_module.ann_candidates(index, large_guide.ann, [query], heavy, 100)
    dense_only = large_guide.ann.search(shopper_vectors(index, [query], heavy)[0], 103)
    assert set(want[0]) - set(dense_only)
    assert set(got[0]) == set(want[0])


def test_the_guide_chooses_its_path_by_catalog_size(monkeypatch, guide, large_guide):
    def refuse(*args, **kwargs):
        raise AssertionError("wrong retrieval path")

    monkeypatch.setattr(ranker_module, "ann_candidates", refuse)
    assert guide.ann is None and len(guide.index) < guide.ranker.ann_min_items
    assert len(guide.recommend(ShopperProfile(occasion="party"), k=5)) == 5
    with pytest.raises(AssertionError, match="wrong retrieval path"):
        large_guide.recommend(ShopperProfile(occasion="party"), k=5)
    monkeypatch.undo()
    monkeypatch.setattr(ranker_module, "exact_candidates", refuse)
    assert len(large_guide.recommend(ShopperProfile(occasion="party"), k=5)) == 5


def test_ann_index_round_trips_with_the_guide_folder(large_guide, tmp_path):
    g = large_guide
    save_guide(tmp_path / "g", g.advisor, g.index, g.ranker, {}, ann=g.ann)
    assert (tmp_path / "g" / "catalog" / ANN_FILE).exists()
    loaded = ShoppingGuide.load(tmp_path / "g")
    assert loaded.ann is not None and len(loaded.ann) == LARGE
    for profile in (ShopperProfile(height_cm=170, weight_kg=70, occasion="party"), ShopperProfile()):
        assert loaded.recommend(profile, k=10) == g.recommend(profile, k=10)


def test_a_small_guide_saves_no_ann_index(guide, tmp_path):
    save_guide(tmp_path / "g", guide.advisor, guide.index, guide.ranker, {})
    assert not (tmp_path / "g" / "catalog" / ANN_FILE).exists()
    assert ShoppingGuide.load(tmp_path / "g").ann is None


def test_a_large_guide_without_its_ann_index_fails_naming_the_file(large_guide, tmp_path):
    g = large_guide
    save_guide(tmp_path / "g", g.advisor, g.index, g.ranker, {}, ann=g.ann)
    (tmp_path / "g" / "catalog" / ANN_FILE).unlink()
    with pytest.raises(DataError, match=ANN_FILE):
        ShoppingGuide.load(tmp_path / "g")


def test_an_ann_index_of_another_catalog_is_refused(large_guide, tmp_path):
    large_guide.ann.save(tmp_path)
    other = scale_catalog(large_guide.index, LARGE + 1, seed=5)
    with pytest.raises(DataError, match="another catalog"):
        AnnIndex.load(tmp_path, other, ANN_RANKER)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ann_min_items", "0"),
        ("ann_connectivity", "1"),
        ("ann_expansion_search", "0"),
        ("ann_expansion_add", "x"),
    ],
)
def test_bad_ann_params_are_rejected_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"recommender\.ranker\.{key}"):
        load_config(PARAMS, overrides=[f"recommender.ranker.{key}={value}"])
