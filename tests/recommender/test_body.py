"""The try-on's measurement imputer: learned from training rows, saved with the guide, never overriding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitting_room.errors import DataError
from fitting_room.recommender.body import BodyModel, fit_body_model


def shoppers(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Shoppers whose hips follow a known linear rule of their other measurements (ModCloth-like)."""
    rng = np.random.default_rng(seed)
    height = rng.normal(165, 7, n)
    weight = rng.normal(64, 9, n)
    band = 60 + 0.4 * weight + rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "height_cm": height,
            "weight_kg": weight,
            "bust_band_cm": band,
            "cup_index": rng.integers(0, 6, n).astype(float),
            "age_years": rng.integers(20, 60, n).astype(float),
            "hips_cm": 30 + 0.2 * height + 0.7 * weight + rng.normal(0, 0.5, n),
        }
    )


def test_a_measurement_in_the_training_data_is_imputed_by_its_learned_model():
    model = fit_body_model(shoppers())
    body = model.impute({"height_cm": 170.0, "weight_kg": 70.0, "bust_band_cm": 88.0, "cup_index": 2.0})
    assert body.hips_cm == pytest.approx(30 + 0.2 * 170 + 0.7 * 70, abs=1.0)
    assert model.models["hips_cm"] is not None and model.models["waist_cm"] is None  # no waists: prior
    assert body.waist_cm == pytest.approx(0.78 * body.bust_cm)


def test_given_measurements_are_never_changed_and_only_the_rest_is_marked_imputed():
    model = fit_body_model(shoppers())
    given = {"height_cm": 150.0, "weight_kg": 90.0, "waist_cm": 99.0, "hips_cm": 101.0}
    body = model.impute(given, "pear")  # a pear's prior would widen imputed hips, not given ones
    assert (body.height_cm, body.weight_kg, body.waist_cm, body.hips_cm) == (150.0, 90.0, 99.0, 101.0)
    assert body.imputed == ("bust_cm",)


def test_a_body_type_shapes_imputed_circumferences_the_way_its_name_says():
    model = fit_body_model(pd.DataFrame())  # no data at all: medians and priors
    given = {"height_cm": 168.0, "weight_kg": 64.0}
    plain, pear = model.impute(given), model.impute(given, "Pear")
    assert pear.hips_cm > plain.hips_cm and pear.body_type == "pear"
    assert model.impute(given, "full bust").bust_cm > plain.bust_cm
    odd = model.impute(given, "unknown shape")
    assert (odd.bust_cm, odd.waist_cm, odd.hips_cm) == (plain.bust_cm, plain.waist_cm, plain.hips_cm)


def test_an_empty_profile_gets_the_training_medians():
    data = shoppers()
    body = fit_body_model(data).impute({})
    assert body.height_cm == pytest.approx(data["height_cm"].median())
    assert set(body.imputed) == {"height_cm", "weight_kg", "bust_cm", "waist_cm", "hips_cm"}


def test_the_model_round_trips_through_json(tmp_path):
    model = fit_body_model(shoppers())
    path = model.save(tmp_path / "body.json")
    assert BodyModel.load(path) == model
    given = {"weight_kg": 55.0, "age_years": 40.0}
    assert BodyModel.load(path).impute(given, "athletic") == model.impute(given, "athletic")


def test_a_missing_or_foreign_file_fails_naming_it(tmp_path):
    with pytest.raises(DataError, match="body.json"):
        BodyModel.load(tmp_path / "body.json")
    (tmp_path / "body.json").write_text('{"format": 99}')
    with pytest.raises(DataError, match="format"):
        BodyModel.load(tmp_path / "body.json")
