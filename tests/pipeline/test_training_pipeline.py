"""The Prefect flow over real DVC stages, tracked in a real MLflow store.

The tests share one throwaway project (see ``conftest.project``) for speed, but none needs
another to have run first: ``first_run`` runs the data stages once and records what they
left, and each later test holds in any order after it (an unchanged re-run, new data, bad
data, bad params).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pytest
from prefect.testing.utilities import prefect_test_harness
from project_builders import write_rtr_lines

from fitting_room.config import ConfigError
from fitting_room.pipeline.dvc_stages import StageFailed

pytestmark = pytest.mark.slow
DATA_STAGES = ["configure", "ingest_images", "ingest_shoppers", "validate_images", "validate_shoppers"]
DOWNSTREAM = {"train_gan", "evaluate_gan", "fit_recommender", "package"}


@pytest.fixture(scope="module", autouse=True)
def prefect_api():
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="module", autouse=True)
def _flows_importable():
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(Path(__file__).resolve().parents[2]))
        yield


def shopper_overrides(path) -> list[str]:
    return [f"data.shoppers.sources.0.path={path}"]


def run_flow(project, overrides, **kwargs):
    from flows.training_pipeline import training_pipeline

    return training_pipeline(
        profile="smoke", overrides=overrides, root=str(project), push_data=False, **kwargs
    )


def parent_runs() -> list:
    return mlflow.search_runs(
        search_all_experiments=True,
        filter_string="tags.stage = 'pipeline'",
        order_by=["attributes.start_time ASC"],
        output_format="list",
    )


def stage_runs(parent_id: str) -> dict[str, object]:
    runs = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
        output_format="list",
    )
    return {r.data.tags["stage"]: r for r in runs}


def ran(outcomes) -> set[str]:
    return {o.name for o in outcomes if o.ran} - {"configure"}


@pytest.fixture(scope="module")
def first_run(project):
    """The first run of the data stages on the project's tiny shopper file, and what it left
    (read at once: a later test may replace the outputs)."""
    outcomes = run_flow(project, shopper_overrides(project / "rtr.json"), until="validate_shoppers")
    return SimpleNamespace(
        outcomes=outcomes,
        parent=parent_runs()[0],
        outputs={
            p: (project / p).exists() for p in ("data/images/train.npz", "data/shoppers/validated.parquet")
        },
        shoppers_report=json.loads((project / "reports/validation/shoppers.json").read_text()),
    )


def test_first_run_executes_every_data_stage_under_one_tracked_parent(first_run):
    assert [o.name for o in first_run.outcomes] == DATA_STAGES and all(o.ran for o in first_run.outcomes)
    assert all(first_run.outputs.values()), first_run.outputs
    assert first_run.shoppers_report["success"] is True

    parent = first_run.parent
    assert parent.info.status == "FINISHED"
    children = stage_runs(parent.info.run_id)
    assert set(children) == set(DATA_STAGES) - {"configure"}
    for run in children.values():
        assert run.data.tags["prefect_flow_run_id"] == parent.data.tags["prefect_flow_run_id"] != ""
        assert len(run.data.tags["git_commit"]) >= 40
        assert run.data.tags["profile"] == "smoke"
    assert "data/images" in json.loads(parent.data.tags["dvc_data_hashes"])


def test_unchanged_rerun_skips_every_stage(project, first_run):
    # brings the project to this data and params whatever ran before (a no-op in file order)
    run_flow(project, shopper_overrides(project / "rtr.json"), until="validate_shoppers")
    again = run_flow(project, shopper_overrides(project / "rtr.json"), until="validate_shoppers")
    assert ran(again) == set()
    assert parent_runs()[-1].data.tags["stage.ingest_images"] == "cached"


def test_new_data_at_the_same_path_reruns_only_the_shopper_stages(project, first_run):
    write_rtr_lines(project / "rtr.json", 450, seed=1)
    again = run_flow(project, shopper_overrides(project / "rtr.json"), until="validate_shoppers")
    assert ran(again) == {"ingest_shoppers", "validate_shoppers"}


def test_failed_validation_stops_the_flow_before_downstream_stages(project):
    bad = {str(i): {"height": "9' 11\""} for i in range(0, 400, 4)}  # 25% impossible heights
    write_rtr_lines(project / "bad.json", 400, **bad)
    with pytest.raises(StageFailed, match="validate_shoppers"):
        run_flow(project, shopper_overrides(project / "bad.json"))
    assert not (project / "data/shoppers/validated.parquet").exists()
    report = json.loads((project / "reports/validation/shoppers.json").read_text())
    assert report["success"] is False
    parent = parent_runs()[-1]
    assert parent.info.status == "FAILED"
    stages = set(stage_runs(parent.info.run_id))
    assert "validate_shoppers" in stages and not stages & DOWNSTREAM


def test_unknown_params_key_fails_before_any_stage(project):
    before = len(parent_runs())
    with pytest.raises(ConfigError, match="data.shoppers.max_rowz: unknown key"):
        run_flow(project, ["data.shoppers.max_rowz=3"])
    assert len(parent_runs()) == before


def test_whole_smoke_pipeline_ends_with_gated_champions_and_a_smoke_checked_bento(project):
    outcomes = run_flow(project, shopper_overrides(project / "rtr.json"))
    assert {"fit_recommender", "train_gan", "evaluate_gan", "package"} <= ran(outcomes)

    current = json.loads((project / "models/bento/current-smoke.json").read_text())
    assert current["bento"].startswith("fitting-room-smoke:")  # the smoke profile's own bento
    assert json.loads((project / "reports/serving/smoke_check.json").read_text())["passed"] is True
    client = mlflow.MlflowClient()
    for name in ("fitting-room-generator-smoke", "fitting-room-guide-smoke"):
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    parent = parent_runs()[-1]
    assert set(stage_runs(parent.info.run_id)) >= DOWNSTREAM
