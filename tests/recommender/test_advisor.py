"""Behaviour of the fit advisor: valid probabilities, size monotonicity, cold start, the known rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fitting_room.recommender.advisor import FitAdvisor
from fitting_room.recommender.evaluate import evaluate_fit
from fitting_room.recommender.synthetic import SIZES


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


def test_save_and_load_round_trip_gives_identical_predictions(trained, tmp_path):
    advisor, test = trained
    loaded = FitAdvisor.load(advisor.save(tmp_path / "advisor"))
    np.testing.assert_array_equal(loaded.predict_proba(test), advisor.predict_proba(test))
    assert not list(tmp_path.rglob("*.tmp*")), "temporary files left behind"
