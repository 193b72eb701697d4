"""A smoke run, or a worse model, never moves a production champion (real MLflow SQLite store).

Each params profile owns its registered names, and a challenger is only ever compared with a
champion scored on the same evaluation data: re-scored on it, or the comparison is refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from fitting_room.config import load_config
from fitting_room.errors import GateFailed
from fitting_room.tracking.promotion import EVAL_DIGEST_TAG, GateConfig, register_and_gate
from fitting_room.tracking.roles import GUIDE, current_file, registered_name

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_GATE = GateConfig(minimum={"auc": 0.7}, compare={"auc": "higher"}, tolerance=0.01)
SMOKE_GATE = GateConfig(minimum={"auc": 0.5}, compare={"auc": "higher"}, tolerance=1.0)
PROD = "fitting-room-guide"


@pytest.fixture
def configs(tmp_path, mlflow_uri, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = tmp_path / "params.yaml"
    doc = {
        "data": {"shoppers": {"sources": [{"name": "renttherunway", "path": "rtr.json"}]}},
        "serving": {"out_dir": str(tmp_path / "bento")},
        "tracking": {"artifact_root": str(tmp_path / "artifacts")},
        "profiles": {"smoke": {}},
    }
    params.write_text(yaml.safe_dump(doc))
    return load_config(params, "default"), load_config(params, "smoke")


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [0.5] * len(model_input)


def _log_model():
    return mlflow.pyfunc.log_model(name="model", python_model=Constant(), pip_requirements=["mlflow"])


def _train(cfg, auc: float, digest: str, gate: GateConfig = PRODUCTION_GATE, rescore=None):
    data = Path(cfg.serving.out_dir).parent / f"{digest}.parquet"
    data.write_text(digest)
    inputs = {"shoppers": data}
    return register_and_gate(
        cfg,
        "fit_recommender",
        GUIDE,
        {"auc": auc},
        gate,
        _log_model,
        digest,
        rescore,
        root=ROOT,
        inputs=inputs,
    )


def _champion(name: str = PROD) -> str:
    return str(MlflowClient().get_model_version_by_alias(name, "champion").version)


def test_each_profile_has_its_own_registered_names_and_current_bento_file():
    assert registered_name(GUIDE) == PROD
    assert registered_name(GUIDE, "smoke") == "fitting-room-guide-smoke"
    assert (current_file(), current_file("smoke")) == ("current.json", "current-smoke.json")


def test_a_smoke_run_never_moves_the_production_champion(configs):
    default, smoke = configs
    assert _train(default, 0.75, "prod-data").alias == "champion"
    result = _train(smoke, 0.58, "smoke-data", SMOKE_GATE)  # passes its own (lax) gate
    assert (result.registered_name, result.alias) == ("fitting-room-guide-smoke", "champion")
    assert _champion() == "1"
    assert [str(v.version) for v in MlflowClient().search_model_versions(f"name = '{PROD}'")] == ["1"]
    assert MlflowClient().get_model_version(result.registered_name, "1").tags["profile"] == "smoke"


def test_a_worse_model_on_the_same_data_stays_challenger_and_says_why_in_one_line(configs):
    default, _ = configs
    _train(default, 0.75, "prod-data")
    with pytest.raises(GateFailed) as failed:
        _train(default, 0.70, "prod-data")  # passes the minimum, loses to the champion
    first = str(failed.value).splitlines()[0]
    assert "registered as 'challenger', the champion is unchanged" in first
    assert "auc = 0.7 vs champion limit 0.7425: worse than allowed" in first
    assert _champion() == "1"
    version = MlflowClient().get_model_version(PROD, "2")
    assert version.tags[EVAL_DIGEST_TAG] == "prod-data"
    (used,) = MlflowClient().get_run(version.run_id).inputs.dataset_inputs  # the data it was scored on
    md5 = hashlib.md5(b"prod-data").hexdigest()  # the file's hash as DVC records it
    assert (used.dataset.name, used.dataset.digest) == ("shoppers", md5)
    assert json.loads(used.dataset.source)["uri"].endswith("prod-data.parquet")
    assert [(t.key, t.value) for t in used.tags] == [("mlflow.data.context", "evaluation")]
    # logged once, and the logged model itself carries its metrics and the gate's verdict
    run = MlflowClient().get_run(version.run_id)
    (model,) = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )
    assert {m.key: m.value for m in model.metrics} == {"auc": 0.70}
    assert model.tags["gate.passed"] == "false" and "worse than allowed" in model.tags["gate.reason"]


def test_a_champion_scored_on_other_data_is_rescored_on_the_challengers(configs):
    default, _ = configs
    _train(default, 0.75, "old-data")
    asked = []

    def rescore(uri: str) -> dict[str, float]:
        asked.append(uri)
        return {"auc": 0.80}  # on the new data the champion is better than it was

    # 0.78 beats the champion's recorded 0.75, but not its 0.80 on the same (new) data
    with pytest.raises(GateFailed, match="auc = 0.78 vs champion limit 0.792: worse than allowed"):
        _train(default, 0.78, "new-data", rescore=rescore)
    assert asked == [f"models:/{PROD}/1"] and _champion() == "1"

    assert _train(default, 0.81, "new-data", rescore=rescore).alias == "champion"
    assert _champion() == "3"


def test_an_incomparable_champion_refuses_the_comparison_naming_why(configs):
    default, _ = configs
    _train(default, 0.75, "old-data")
    with pytest.raises(GateFailed, match="comparison with the champion refused: champion v1 was scored on"):
        _train(default, 0.95, "new-data")  # no way to re-score: even a far better model waits

    def broken(uri: str) -> dict[str, float]:
        raise RuntimeError(f"{uri} expects 10 classes, this data has 3")

    with pytest.raises(GateFailed, match=r"re-scoring models:/fitting-room-guide/1 .* expects 10 classes"):
        _train(default, 0.95, "new-data", rescore=broken)
    assert _champion() == "1"
    aliases = MlflowClient().get_registered_model(PROD).aliases
    assert {k: str(v) for k, v in aliases.items()} == {"champion": "1", "challenger": "3"}
