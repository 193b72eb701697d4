"""Behaviour of the fit advisor: valid probabilities, size monotonicity, cold start, the known rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fitting_room.recommender import features
from fitting_room.recommender.advisor import FitAdvisor, pick_sizes, train_advisor
from fitting_room.recommender.evaluate import evaluate_fit
from fitting_room.recommender.monotone import project_monotone
from fitting_room.recommender.splits import random_split
from fitting_room.recommender.synthetic import SIZES

from .conftest import SMALL_ADVISOR


def _grid(test: pd.DataFrame, n_rows: int = 40) -> pd.DataFrame:
    """Each of the first rows repeated over every size of the chart."""
    rows = test.head(n_rows).reset_index(drop=True)
    grid = rows.loc[rows.index.repeat(len(SIZES))].reset_index(drop=True)
    grid["size"] = np.tile(SIZES, len(rows))
    grid["case"] = np.repeat(np.arange(len(rows)), len(SIZES))
    return grid


def test_probabilities_are_valid_and_sum_to_one(trained):
    advisor, test = trained
    proba = advisor.predict_proba(test)
    assert proba.shape == (len(test), 3)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_a_larger_size_never_gets_a_higher_p_small_nor_a_lower_p_large(trained):
    advisor, test = trained
    grid = _grid(test)
    proba = advisor.predict_proba(grid)
    for case in range(grid["case"].max() + 1):
        p = proba[grid["case"].to_numpy() == case]
        assert np.all(np.diff(p[:, 0]) <= 1e-12), f"P(small) rises with size for case {case}"
        assert np.all(np.diff(p[:, 2]) >= -1e-12), f"P(large) falls with size for case {case}"


def test_a_shopper_without_measurements_still_gets_an_answer(trained):
    advisor, test = trained
    blank = test.head(5).copy()
    for col in ("height_cm", "weight_kg", "bust_band_cm", "cup_index", "age_years", "body_type"):
        blank[col] = None
    proba, advised = advisor.advise(blank)
    assert np.isfinite(proba).all() and np.isfinite(advised).all()


def test_unknown_shopper_and_item_take_the_cold_start_path(trained):
    advisor, test = trained
    cold = test.head(5).copy()
    cold["user_id"], cold["item_id"] = "never-seen-user", "never-seen-item"
    cold["size"] = np.nan
    proba, advised = advisor.advise(cold)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(advised) <= set(SIZES)


def test_the_advisor_recovers_the_synthetic_fit_rule(trained, synthetic):
    advisor, test = trained
    _, shoppers, items = synthetic
    metrics = evaluate_fit(advisor, test)
    # 5 % of labels are random, so ~0.97 is the ceiling
    assert metrics["advisor_accuracy"] > 0.75
    assert metrics["advisor_auc_macro"] > 0.85
    truth = test.merge(shoppers, on="user_id").merge(items[["item_id", "cut"]], on="item_id")
    _, advised = advisor.advise(truth)
    right = (truth["true_size"] - truth["cut"]).clip(0, 24).to_numpy()
    assert np.mean(advised == right) > 0.6


def test_renting_the_advised_size_fits_more_often_than_the_base_rate(trained):
    metrics = evaluate_fit(trained[0], trained[1])
    assert metrics["advisor_fit_rate_advised_size"] > metrics["advisor_fit_rate_base"]
    assert metrics["advisor_fit_rate_other_size"] < metrics["advisor_fit_rate_base"]


def test_ties_in_p_fit_go_to_the_size_nearest_the_shoppers_expected_size():
    sizes = np.array([[2.0, 4.0, 6.0, 8.0]] * 3)
    p_fit = np.array([[0.7, 0.8, 0.8, 0.8], [0.7, 0.8, 0.8, 0.8], [0.9, 0.8, 0.8, 0.8]])
    advised = pick_sizes(sizes, p_fit, expected=np.array([7.4, 1.0, 8.0]))
    np.testing.assert_array_equal(advised, [8.0, 4.0, 2.0])  # a strictly better P(fit) still wins


def test_expected_size_ignores_the_size_asked_about(trained):
    advisor, test = trained
    rows = test.head(10)
    x = advisor.design(rows)
    x_other = advisor.design(rows.assign(size=rows["size"] + 6))
    np.testing.assert_array_equal(advisor.expected_sizes(x), advisor.expected_sizes(x_other))


def test_save_and_load_round_trip_gives_identical_predictions(trained, tmp_path):
    advisor, test = trained
    loaded = FitAdvisor.load(advisor.save(tmp_path / "advisor"))
    for got, want in zip(loaded.advise(test), advisor.advise(test), strict=True):
        np.testing.assert_array_equal(got, want)
    assert not list(tmp_path.rglob("*.tmp*")), "temporary files left behind"


def test_size_monotonicity_holds_by_prediction_even_for_unconstrained_trees_and_unseen_sizes(synthetic):
    tx, _, _ = synthetic
    train, val, test = random_split(tx, 0.1, 0.1, seed=1)
    free, _ = train_advisor(train, val, SMALL_ADVISOR.model_copy(update={"monotone_constraints": "none"}), 1)
    rows = test.head(30).reset_index(drop=True)
    sizes = np.array([-2.0, 0.0, 1.5, 3.0, 7.25, 10.0, 13.0, 18.5, 24.0, 31.0, 60.0])  # on and off the grid
    grid = rows.loc[rows.index.repeat(len(sizes))].reset_index(drop=True)
    grid["size"] = np.tile(sizes, len(rows))
    proba = free.predict_proba(grid).reshape(len(rows), len(sizes), 3)
    assert np.all(np.diff(proba[:, :, 0], axis=1) <= 1e-12), "P(small) rises with size"
    assert np.all(np.diff(proba[:, :, 2], axis=1) >= -1e-12), "P(large) falls with size"
    np.testing.assert_allclose(proba.sum(axis=2), 1.0, atol=1e-9)


def test_modcloth_shaped_rows_train_an_advisor_that_keeps_its_guarantees(synthetic):
    # ModCloth publishes hips, bra size and cup but no weight, body type, occasion or age
    tx, _, _ = synthetic
    modcloth = tx.assign(hips_cm=tx["weight_kg"] * 0.6 + 60, weight_kg=np.nan, age_years=np.nan,
                         body_type=None, rented_for=None, source="modcloth")  # fmt: skip
    train, val, test = random_split(modcloth, 0.1, 0.1, seed=4)
    advisor, _ = train_advisor(train, val, SMALL_ADVISOR, 4)
    proba, advised = advisor.advise(test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.isfinite(advised).all()
    p = advisor.predict_proba(_grid(test, n_rows=10))[:, 0].reshape(10, len(SIZES))
    assert np.all(np.diff(p, axis=1) <= 1e-12), "P(small) rises with size"
    assert evaluate_fit(advisor, test)["advisor_auc_macro"] > 0.75  # the synthetic rule is still learnable


def test_projection_leaves_monotone_curves_alone_and_fixes_the_others():
    already = np.array([[0.9, 0.7, 0.7, 0.2]])
    np.testing.assert_allclose(project_monotone(already, increasing=False), already)
    bumpy = np.array([[0.5, 0.8, 0.3, 0.4, 0.1]])
    projected = project_monotone(bumpy, increasing=False)
    assert np.all(np.diff(projected) <= 0)
    assert projected.min() >= bumpy.min() and projected.max() <= bumpy.max()


def test_catalog_fast_path_gives_the_same_advice_as_the_advisor(guide, trained):
    advisor, test = trained
    shopper = test.iloc[0][["height_cm", "weight_kg", "bust_band_cm", "cup_index", "age_years",
                            "body_type", "rented_for", "user_id"]].to_dict()  # fmt: skip
    positions = np.arange(min(30, len(guide.index)))
    fast_proba, fast_size = guide.catalog_fit.advise(shopper, positions)
    rows = pd.DataFrame([shopper] * len(positions))
    rows["item_id"] = guide.index.item_ids[positions]
    rows["category"] = guide.index.categories[positions]
    rows["size"] = np.nan
    proba, size = advisor.advise(rows)
    np.testing.assert_allclose(fast_proba, proba, atol=1e-9)
    np.testing.assert_array_equal(fast_size, size)


def test_the_configured_monotone_method_and_penalty_reach_the_trees_which_fall_along_size(synthetic):
    tx, _, _ = synthetic
    train, val, test = random_split(tx, 0.1, 0.1, seed=2)
    cfg = SMALL_ADVISOR.model_copy(update={"monotone_method": "advanced", "monotone_penalty": 1.0})
    advisor, _ = train_advisor(train, val, cfg, 2)
    text = advisor.small_model.model_to_string()
    assert "[monotone_constraints_method: advanced]" in text
    assert "[monotone_penalty: 1]" in text
    grid = _grid(test, n_rows=20)
    x = features.design_matrix(grid, features.join_stats(grid, advisor.stats), advisor.vocab).to_numpy(
        dtype=float
    )
    raw = advisor.small_model.predict(x).reshape(20, len(SIZES))  # the trees alone, no projection
    assert np.all(np.diff(raw, axis=1) <= 1e-12), "the constrained trees let P(small) rise with size"
