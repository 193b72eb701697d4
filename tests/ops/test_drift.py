"""Drift of incoming shopper data against the training reference (PSI, KS, category shares)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fitting_room.config.data import Range
from fitting_room.config.ops import DriftConfig
from fitting_room.errors import DataError
from fitting_room.ops.drift import compare_frames, load_incoming, psi

CFG = DriftConfig(numeric=["height_cm", "weight_kg"], categorical=["fit", "category"], min_rows=50)


def shoppers(n: int, seed: int, height_mean: float = 165.0, dress_share: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "height_cm": rng.normal(height_mean, 7.0, n),
            "weight_kg": rng.normal(62.0, 9.0, n),
            "fit": rng.choice(["fit", "small", "large"], n, p=[0.7, 0.15, 0.15]),
            "category": np.where(rng.random(n) < dress_share, "dress", "gown"),
        }
    )


def test_same_population_does_not_drift():
    report = compare_frames(shoppers(3000, 0), shoppers(1000, 1), CFG)
    assert not report.drifted
    assert report.drifted_features == []
    assert all(np.isfinite(c.value) for c in report.checks)


def test_taller_shoppers_drift_on_height_only():
    report = compare_frames(shoppers(3000, 0), shoppers(1000, 1, height_mean=175.0), CFG)
    assert report.drifted
    assert report.drifted_features == ["height_cm"]
    by_stat = {(c.feature, c.statistic): c for c in report.checks}
    assert by_stat[("height_cm", "psi")].value > CFG.max_psi
    assert by_stat[("height_cm", "ks")].value > CFG.max_ks
    assert "DRIFT" in report.to_markdown()


def test_a_category_share_shift_is_named_with_its_shares():
    report = compare_frames(shoppers(3000, 0), shoppers(1000, 1, dress_share=0.8), CFG)
    check = next(c for c in report.checks if c.feature == "category")
    assert check.drifted and check.value == pytest.approx(0.3, abs=0.05)
    assert check.detail.startswith("dress: 0.5")


def test_min_drifted_features_gates_the_verdict():
    strict = CFG.model_copy(update={"min_drifted": 2})
    report = compare_frames(shoppers(3000, 0), shoppers(1000, 1, height_mean=175.0), strict)
    assert report.drifted_features == ["height_cm"] and not report.drifted


def test_psi_is_zero_for_identical_samples_and_grows_with_shift():
    x = np.random.default_rng(0).normal(size=5000)
    assert psi(x, x, 10) == pytest.approx(0.0, abs=1e-9)
    assert psi(x, x + 0.2, 10) < psi(x, x + 1.0, 10)


def test_too_few_incoming_rows_is_an_error_naming_the_parameter():
    with pytest.raises(DataError, match="ops.drift.min_rows"):
        compare_frames(shoppers(300, 0), shoppers(10, 1), CFG)


def test_a_missing_feature_column_is_named():
    with pytest.raises(DataError, match=r"incoming data lacks drift feature\(s\) \['weight_kg'\]"):
        compare_frames(shoppers(300, 0), shoppers(100, 1).drop(columns="weight_kg"), CFG)


def test_an_empty_column_is_reported_not_judged():
    incoming = shoppers(100, 1).assign(weight_kg=np.nan)
    report = compare_frames(shoppers(300, 0), incoming, CFG)
    check = next(c for c in report.checks if c.feature == "weight_kg")
    assert not check.drifted and "no values" in check.detail
    json.dumps(report.as_dict())  # NaN-free metrics and a serialisable report
    assert "drift.weight_kg.psi" not in report.metrics()


def test_incoming_files_are_parsed_and_implausible_values_blanked(tmp_path):
    rows = [
        {
            "fit": "fit",
            "user_id": str(i),
            "item_id": "1",
            "height": "5' 6\"",
            "weight": "130lbs",
            "size": 8,
            "age": "116" if i == 0 else "30",
        }
        for i in range(60)
    ]
    path = tmp_path / "new.json"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    frame = load_incoming([path], {"age_years": Range(min=13, max=100)})
    assert len(frame) == 60
    assert np.isnan(frame.loc[0, "age_years"]) and frame.loc[1, "age_years"] == 30
    with pytest.raises(DataError, match="missing.json: incoming shopper file not found"):
        load_incoming([tmp_path / "missing.json"], {})


def test_the_drift_decision_reads_relative_paths_from_the_project_root(tmp_path, monkeypatch):
    from pathlib import Path

    from fitting_room.config import load_config
    from fitting_room.ops.drift import check_drift, incoming_paths

    row = {"fit": "fit", "item_id": "1", "height": "5' 6\"", "size": 8}
    rows = [{**row, "user_id": str(i)} for i in range(60)]
    (tmp_path / "new.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    reference = tmp_path / "data/shoppers/validated.parquet"
    reference.parent.mkdir(parents=True)
    load_incoming([tmp_path / "new.json"], {}).to_parquet(reference)
    cfg = load_config(Path(__file__).resolve().parents[2] / "params.yaml")
    cfg = cfg.model_copy(update={"ops": cfg.ops.model_copy(update={"drift": CFG})})
    monkeypatch.chdir(tmp_path.parent)  # the caller's working directory is not the project root
    paths = incoming_paths(cfg, [Path("new.json")])
    assert paths == [Path("new.json")]
    report = check_drift(cfg, paths, root=tmp_path)
    assert not report.drifted and report.n_incoming == report.n_reference == 60


def test_the_drift_flow_loads_the_training_flow_by_its_entrypoint(monkeypatch, tmp_path):
    # how flows/drift_check.py retrains in-process: by path, as a Prefect worker loads a flow,
    # from any working directory and without touching sys.path itself
    from pathlib import Path

    from prefect.flows import load_flow_from_entrypoint

    from fitting_room.pipeline.entrypoints import TRAINING_ENTRYPOINT

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))  # Prefect's loader may add to it
    training = load_flow_from_entrypoint(str(Path(__file__).resolve().parents[2] / TRAINING_ENTRYPOINT))
    assert training.name == "training-pipeline"
