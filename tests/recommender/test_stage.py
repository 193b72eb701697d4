"""The fit_recommender stage end to end: real MLflow registry, gate, champion, CLI batch advice."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from fitting_room.cli import app
from fitting_room.config import load_config
from fitting_room.errors import DataError, GateFailed
from fitting_room.recommender.guide import ShoppingGuide
from fitting_room.recommender.stage import fit_recommender
from fitting_room.recommender.synthetic import make_shoppers

FAST = [
    "recommender.advisor.num_boost_round=40",
    "recommender.advisor.n_folds=2",
    "recommender.advisor.num_threads=1",
    "recommender.ranker.eval_max_shoppers=200",
]
PARAMS = """
data:
  shoppers:
    sources: [{name: renttherunway, path: none.json}]
"""


@pytest.fixture
def project(tmp_path, mlflow_uri):
    (tmp_path / "params.yaml").write_text(PARAMS)
    tx, _, _ = make_shoppers(n_transactions=1500, n_shoppers=300, n_items=50, seed=5)
    tx.to_parquet(tmp_path / "validated.parquet")
    return tmp_path


def _cfg(project, *extra):
    return load_config(project / "params.yaml", overrides=[*FAST, *extra])


def test_stage_registers_the_guide_as_one_model_that_advises_and_recommends(project):
    import mlflow

    result = fit_recommender(_cfg(project), project / "validated.parquet", root=project)
    metrics = json.loads((project / "reports/recommender/metrics.json").read_text())
    assert metrics["advisor_auc_macro"] > 0.8 and "popularity_recall_at_10_cold" in metrics
    assert (project / "models/recommender/guide.json").exists()
    # the try-on's imputer travels with the guide: fit on the same rows, loaded with it
    guide = ShoppingGuide.load(project / "models/recommender")
    assert (project / "models/recommender/body.json").exists()
    assert guide.body.medians["height_cm"] == pytest.approx(
        pd.read_parquet(project / "validated.parquet").drop_duplicates("user_id")["height_cm"].median()
    )
    client = mlflow.MlflowClient()
    assert [m.name for m in client.search_registered_models()] == ["fitting-room-guide"]
    assert str(client.get_model_version_by_alias("fitting-room-guide", "champion").version) == "1"
    assert result.aliases == {"fitting-room-guide": "champion"}
    # the registered pyfunc answers both questions, told apart by the input's columns
    model = mlflow.pyfunc.load_model("models:/fitting-room-guide@champion")
    advice = model.predict(pd.DataFrame({"user_id": ["u1"], "item_id": ["i3"], "size": [8.0]}))
    assert list(advice.columns) == ["p_small", "p_fit", "p_large", "advised_size"]
    assert abs(advice[["p_small", "p_fit", "p_large"]].to_numpy().sum() - 1) < 1e-5
    ranked = model.predict(pd.DataFrame({"height_cm": [168.0], "k": [3]}))
    assert len(json.loads(ranked["recommendations"][0])) == 3


def test_failed_gate_registers_a_challenger_and_leaves_the_champion(project):
    import mlflow

    fit_recommender(_cfg(project), project / "validated.parquet", root=project)
    impossible = _cfg(project, "recommender.gate.minimum.advisor_auc_macro=1.01")
    with pytest.raises(GateFailed, match="advisor_auc_macro"):
        fit_recommender(impossible, project / "validated.parquet", root=project)
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("fitting-room-guide", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("fitting-room-guide", "challenger").version) == "2"


def test_missing_input_is_a_clear_error_and_writes_nothing(project):
    with pytest.raises(DataError, match="nowhere.parquet"):
        fit_recommender(_cfg(project), project / "nowhere.parquet", root=project)
    assert not (project / "models").exists() or not any((project / "models").iterdir())


def test_advise_fit_cli_writes_one_row_per_input_line_in_order(project):
    fit_recommender(_cfg(project), project / "validated.parquet", root=project, track=False)
    lines = [
        {"fit": "fit", "user_id": "u1", "item_id": "i3", "weight": "137lbs", "height": "5' 8\"", "size": 8},
        {"user_id": "stranger", "item_id": "unknown-item", "size": 4, "age": "116"},  # no label, cold
        {"user_id": "u2", "item_id": "i4", "bust size": "34d", "size": 12, "category": "dress"},
    ]
    data = project / "in.json"
    data.write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = project / "pred.csv"
    result = CliRunner().invoke(
        app,
        [
            "-p",
            str(project / "params.yaml"),
            "advise-fit",
            "--data",
            str(data),
            "--out",
            str(out),
            "--model-uri",
            str(project / "models/recommender"),
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["row", "p_small", "p_fit", "p_large", "advised_size"]
    assert table["row"].tolist() == [0, 1, 2]
    assert (table[["p_small", "p_fit", "p_large"]].sum(axis=1) - 1).abs().max() < 1e-5


def test_a_champion_trained_on_other_data_is_rescored_on_the_new_data_before_the_gate(project):
    import mlflow

    cfg = _cfg(
        project, "recommender.gate.compare={advisor_auc_macro: higher}", "recommender.gate.tolerance=0.05"
    )
    fit_recommender(cfg, project / "validated.parquet", root=project)
    newer, _, _ = make_shoppers(n_transactions=1500, n_shoppers=300, n_items=50, seed=6)
    newer.to_parquet(project / "newer.parquet")
    result = fit_recommender(cfg, project / "newer.parquet", root=project)
    client = mlflow.MlflowClient()
    v1, v2 = (client.get_model_version("fitting-room-guide", v) for v in ("1", "2"))
    assert v1.tags["eval.digest"] != v2.tags["eval.digest"]  # other data: other evaluation digest
    # the gate compared v2 with v1's scores on v2's test data, not with v1's own run metrics
    rescored = mlflow.artifacts.load_dict(f"runs:/{v2.run_id}/gate_champion_metrics.json")
    own = client.get_run(v1.run_id).data.metrics
    assert rescored["advisor_auc_macro"] != pytest.approx(own["advisor_auc_macro"], abs=1e-9)
    assert 0.5 < rescored["advisor_auc_macro"] <= 1 and "recall_at_10" in rescored
    checks = {c["name"] for c in mlflow.artifacts.load_dict(f"runs:/{v2.run_id}/gate.json")["checks"]}
    assert "vs_champion" in checks and "comparable" not in checks
    assert result.aliases == {"fitting-room-guide": "champion"}  # same generator of data: as good
