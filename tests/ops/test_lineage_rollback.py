"""Lineage of the served models and whole-bundle rollback, on real MLflow and a real bento."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from fitting_room.config import load_config
from fitting_room.errors import FittingRoomError
from fitting_room.ops.lineage import served_lineage
from fitting_room.ops.rollback import bento_history, rollback_bento, rollback_bundle
from fitting_room.tracking.mlflow_runs import PARENT_RUN_ENV, pipeline_run, stage_run
from fitting_room.tracking.promotion import GateConfig, evaluate_gate, promote
from fitting_room.tracking.roles import REGISTERED_MODELS

ROOT = Path(__file__).resolve().parents[2]
ROLES = REGISTERED_MODELS


def minimal_config(tmp_path: Path):
    """The smallest params file the config accepts (all else defaults), independent of params.yaml."""
    params = tmp_path / "params.yaml"
    doc = {
        "data": {"shoppers": {"sources": [{"name": "renttherunway", "path": "rtr.json"}]}},
        "serving": {"out_dir": str(tmp_path / "bento")},
        "tracking": {"artifact_root": str(tmp_path / "artifacts")},
    }
    params.write_text(yaml.safe_dump(doc))
    return load_config(params)


@pytest.fixture
def cfg(tmp_path, mlflow_uri, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return minimal_config(tmp_path)


def register_version(cfg, name: str, quality: float) -> str:
    """One pipeline run: a passing validation stage and a training stage registering ``name``."""
    client = MlflowClient()
    with pipeline_run(cfg, ROOT, flow_run_id="flow-run-123"):
        with stage_run(cfg, "validate_shoppers", ROOT):
            mlflow.set_tag("validation_success", "true")
            mlflow.log_metric("validation_rows", 400)
        with stage_run(cfg, f"train_{name}", ROOT) as run:
            mlflow.log_metric("quality", quality)
            mlflow.log_dict({"quality": quality}, "model/metrics.json")
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(
        name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    ).version
    promote(client, name, version, evaluate_gate({"quality": quality}, GateConfig(), None))
    return str(version)


def test_lineage_of_the_champion_names_run_commit_data_params_validation_and_flow_run(cfg, monkeypatch):
    monkeypatch.delenv(PARENT_RUN_ENV, raising=False)
    register_version(cfg, ROLES["generator"], 0.5)
    doc = served_lineage(cfg, MlflowClient(), "generator")
    assert doc["registry"] == mlflow.get_registry_uri() and doc["registry"].startswith("sqlite:///")
    assert doc["version"] == "1" and doc["aliases"] == ["champion"]
    assert doc["served_from"].startswith("champion alias")
    assert [h["action"] for h in doc["alias_history"]] == ["alias:champion"]
    assert doc["run"]["prefect_flow_run_id"] == "flow-run-123"
    assert len(doc["run"]["git_commit"]) >= 40
    assert doc["run"]["params_hash"] and doc["params"]["ops"]["schedule"]["cron"] == cfg.ops.schedule.cron
    assert doc["validation"]["validate_shoppers"]["success"] == "true"
    assert isinstance(doc["dvc_data_hashes"], dict)


def test_lineage_of_an_unregistered_model_is_a_clear_error(cfg):
    with pytest.raises(FittingRoomError, match="'fitting-room-guide' has no 'champion' alias"):
        served_lineage(cfg, MlflowClient(), "guide")
    with pytest.raises(FittingRoomError, match="no bento is current"):
        served_lineage(cfg, MlflowClient(), "bento")


@pytest.fixture(scope="module")
def bento_v1(tmp_path_factory):
    """A real bento (``bentoml build`` of the service) pinning MLflow version 1 of each model."""
    bentoml = pytest.importorskip("bentoml")
    from fitting_room.serving.args import service_args
    from fitting_room.serving.package import build_bento

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENTOML_HOME", str(tmp_path_factory.mktemp("bentoml")))
        mp.setenv("BENTOML_DO_NOT_TRACK", "true")
        cfg = minimal_config(tmp_path_factory.mktemp("params"))
        tags = {}
        for role, name in ROLES.items():
            labels = {"role": role, "mlflow_model": name, "mlflow_version": "1"}
            with bentoml.models.create(name, labels=labels) as model:
                (Path(model.path) / "weights.txt").write_text(role)
            tags[role] = str(model.tag)
        labels = {f"{role}_version": "1" for role in ROLES}
        tag = build_bento(cfg, service_args(cfg.serving, tags), labels, ROOT)
        yield tag


@pytest.mark.slow
def test_rollback_all_restores_every_champion_and_the_bento_with_an_audit_trail(cfg, bento_v1):
    for name in ROLES.values():
        register_version(cfg, name, 0.5)  # version 1, then a newer champion
        register_version(cfg, name, 0.6)
    client = MlflowClient()
    result = rollback_bundle(cfg, client, bento_v1, "v2 recommends out-of-stock items")
    assert {r["to_version"] for r in result["models"].values()} == {"1"}, result
    for role, name in ROLES.items():
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
        assert str(result["models"][role]["from_version"]) == "2"
    current = json.loads((Path(cfg.serving.out_dir) / "current.json").read_text())
    assert current["bento"] == bento_v1
    assert {m["mlflow_version"] for m in current["models"]} == {"1"}
    (move,) = bento_history(cfg)
    assert move["to_bento"] == bento_v1 and move["reason"] == "v2 recommends out-of-stock items"
    lineage = served_lineage(cfg, client, "bento")
    assert lineage["bento"] == bento_v1 and lineage["models"]["guide"]["version"] == "1"


@pytest.mark.slow
def test_rollback_bento_to_the_default_relative_out_dir_lands_in_the_working_directory(
    cfg, bento_v1, tmp_path
):
    # params.yaml's serving.out_dir is relative (models/bento) and the CLI passes root "."
    relative = cfg.model_copy(
        update={"serving": cfg.serving.model_copy(update={"out_dir": Path("models/bento")})}
    )
    rollback_bento(relative, bento_v1, "back to v1")
    current = json.loads((tmp_path / "models/bento/current.json").read_text())
    assert current["bento"] == bento_v1
    assert (tmp_path / "models/bento" / current["archive"]).is_file()


@pytest.mark.slow
def test_rollback_all_moves_nothing_when_a_pinned_version_is_gone(cfg, bento_v1):
    register_version(cfg, ROLES["generator"], 0.5)
    register_version(cfg, ROLES["generator"], 0.6)  # the guide was never registered
    client = MlflowClient()
    with pytest.raises(FittingRoomError, match="'fitting-room-guide' version '1' is no longer registered"):
        rollback_bundle(cfg, client, bento_v1, "test")
    assert str(client.get_model_version_by_alias(ROLES["generator"], "champion").version) == "2"
    assert not (Path(cfg.serving.out_dir) / "current.json").exists()
