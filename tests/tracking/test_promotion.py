"""The quality gate and registry aliases, on a real MLflow SQLite store."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from fitting_room.errors import FittingRoomError
from fitting_room.tracking.promotion import (
    GateConfig,
    alias_history,
    champion_metrics,
    evaluate_gate,
    promote,
    rollback,
)

GATE = GateConfig(minimum={"auc": 0.7}, maximum={"fid": 30.0}, compare={"auc": "higher"}, tolerance=0.01)


def test_gate_passes_within_bounds_without_champion():
    result = evaluate_gate({"auc": 0.8, "fid": 10.0}, GATE, champion=None)
    assert result.passed
    assert [c.metric for c in result.checks] == ["auc", "fid"]


def test_gate_names_the_failed_bound_and_the_gap():
    result = evaluate_gate({"auc": 0.65, "fid": 10.0}, GATE, champion=None)
    assert not result.passed
    assert "auc = 0.65, required >= 0.7: FAILED (off by 0.05)" in result.summary()


def test_gate_fails_a_model_worse_than_champion_beyond_tolerance():
    worse = evaluate_gate({"auc": 0.78, "fid": 10.0}, GATE, champion={"auc": 0.80})
    slightly = evaluate_gate({"auc": 0.795, "fid": 10.0}, GATE, champion={"auc": 0.80})
    assert not worse.passed and "worse than allowed" in worse.summary()
    assert slightly.passed


def test_missing_or_nan_metric_fails_its_check():
    assert not evaluate_gate({"fid": 1.0}, GATE, None).passed
    assert not evaluate_gate({"auc": float("nan"), "fid": 1.0}, GATE, None).passed


def test_gate_config_rejects_minimum_above_maximum():
    with pytest.raises(ValueError, match="minimum above maximum"):
        GateConfig(minimum={"x": 2.0}, maximum={"x": 1.0})


def _register(name: str, auc: float) -> str:
    client = MlflowClient()
    with mlflow.start_run() as run:
        mlflow.log_metric("auc", auc)
        mlflow.log_dict({"auc": auc}, "model/metrics.json")
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    source = f"{run.info.artifact_uri}/model"
    return client.create_model_version(name, source, run_id=run.info.run_id).version


def test_promote_rollback_and_audit_on_real_registry(mlflow_uri):
    client = MlflowClient()
    v1 = _register("m", 0.80)
    assert promote(client, "m", v1, evaluate_gate({"auc": 0.8, "fid": 1}, GATE, None)) == "champion"
    v2 = _register("m", 0.60)
    bad = evaluate_gate({"auc": 0.6, "fid": 1}, GATE, champion_metrics(client, "m"))
    assert promote(client, "m", v2, bad) == "challenger"
    assert client.get_model_version_by_alias("m", "champion").version == v1
    v3 = _register("m", 0.81)
    promote(client, "m", v3, evaluate_gate({"auc": 0.81, "fid": 1}, GATE, champion_metrics(client, "m")))
    assert client.get_model_version_by_alias("m", "champion").version == v3

    record = rollback(client, "m", v1, reason="bad live feedback")
    assert client.get_model_version_by_alias("m", "champion").version == v1
    assert record["from_version"] == v3 and record["reason"] == "bad live feedback"
    actions = [r["action"] for r in alias_history(client, "m")]
    assert actions == ["alias:champion", "alias:challenger", "alias:champion", "rollback"]


def test_rollback_to_unknown_version_names_it(mlflow_uri):
    client = MlflowClient()
    _register("m", 0.8)
    with pytest.raises(FittingRoomError, match="no version '9'"):
        rollback(client, "m", "9", reason="x")
