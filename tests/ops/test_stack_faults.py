"""The MLflow server killed in the middle of a stage, on the real stack.

The training flow (smoke profile, up to ``fit_recommender``) runs against the stack's servers
for a throwaway project; once ``fit_recommender``'s MLflow run exists, the MLflow server is
killed (SIGKILL, its whole process tree). The run must fail after bounded retries with one
error naming the stage and the server, promote nothing and leave no half-written guide (the
stage's folder is complete before its MLflow step; it is a DVC output, never what serves: the
bento takes the registry's champion). After ``stack up`` restarts the server (same port), the
same command must finish, DVC skipping the stages that had finished.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest
from project_builders import copy_project
from stack_helpers import needs_postgres, read_env, stack_config

from fitting_room.ops.stack import stack_down, stack_status, stack_up
from fitting_room.recommender.guide import ShoppingGuide

pytestmark = [pytest.mark.slow, needs_postgres, pytest.mark.timeout(1800)]
FLOW = ["--profile", "smoke", "--until", "fit_recommender", "--no-push"]
GUIDE = "fitting-room-guide-smoke"


def mlflow_post(env: dict[str, str], endpoint: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/{endpoint}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


def registered(env: dict[str, str], name: str) -> list[dict]:
    """The registered models called ``name`` on the server (its REST API; a GET endpoint)."""
    query = urllib.parse.urlencode({"filter": f"name = '{name}'"})
    url = f"{env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/registered-models/search?{query}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read() or b"{}").get("registered_models", [])


def stage_running(env: dict[str, str], stage: str) -> bool:
    """Whether the server holds a RUNNING run of ``stage`` (any experiment)."""
    try:
        experiments = mlflow_post(env, "experiments/search", {"max_results": 100}).get("experiments", [])
        ids = [e["experiment_id"] for e in experiments]
        found = mlflow_post(
            env,
            "runs/search",
            {"experiment_ids": ids, "filter": f"tags.stage = '{stage}' and attributes.status = 'RUNNING'"},
        )
    except OSError:
        return False
    return bool(found.get("runs"))


def site_env() -> dict[str, str]:
    """This environment without the test runner's variables and any fitting-room settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FITTING_ROOM_"))}


@pytest.fixture
def stack(tmp_path):
    project = copy_project(tmp_path / "project")
    cfg = stack_config(project, f"stack.dir={tmp_path / 'stack'}")
    try:
        _, env_file = stack_up(cfg, project, site_env())
        env = {
            **site_env(),
            **read_env(env_file),
            "FITTING_ROOM_SET": f"data.shoppers.sources.0.path={project / 'rtr.json'}",
            "PREFECT_HOME": str(tmp_path / "prefect-client"),
        }
        yield cfg, project, env
    finally:
        stack_down(cfg, project, purge=True)


def run_flow(project: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "flows/training_pipeline.py", *FLOW],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_mlflow_killed_mid_stage_fails_the_run_promotes_nothing_and_a_rerun_resumes(stack):
    cfg, project, env = stack
    flow = run_flow(project, env)
    deadline = time.monotonic() + 900
    while not stage_running(env, "fit_recommender"):
        assert flow.poll() is None, flow.stdout.read()[-4000:]
        assert time.monotonic() < deadline, "fit_recommender never started"
        time.sleep(1)
    mlflow = next(s for s in stack_status(cfg, project) if s.name == "mlflow")
    server = psutil.Process(mlflow.pid)
    for proc in [*server.children(recursive=True), server]:
        proc.kill()
    output = flow.communicate(timeout=900)[0]

    assert flow.returncode != 0
    # the flow's last word: one error naming the stage, then the stage's last lines, whose own
    # last word names the server (not MLflow's traceback of the call that failed)
    error = output[output.rindex("\nerror: ") + 1 :].rstrip().splitlines()
    assert error[0].startswith("error: stage 'fit_recommender' failed"), output[-4000:]
    assert all(line.startswith("  | ") for line in error[1:]), error
    server = env["MLFLOW_TRACKING_URI"]
    assert error[-1].startswith(f"  | error: MLflow tracking server {server} stopped answering"), error
    # the stage's folder was complete before its MLflow step began; no staging folder is left
    ShoppingGuide.load(project / "models" / "recommender")
    assert not list((project / "models").glob(".recommender.*")), list((project / "models").iterdir())

    stack_up(cfg, project, site_env())  # restarts the MLflow server on its port; the others kept running
    # nothing promoted (the kill may land before or after the version was registered)
    assert not any(model.get("aliases") for model in registered(env, GUIDE)), registered(env, GUIDE)
    again = run_flow(project, env)
    output = again.communicate(timeout=900)[0]
    assert again.returncode == 0, output[-4000:]
    assert "validate_shoppers: unchanged, skipped" in output, output[-4000:]  # DVC kept what had finished
    final = next(line for line in output.splitlines() if line.startswith("pipeline finished: re-ran "))
    assert "fit_recommender" in final and "validate_shoppers" not in final and "ingest" not in final
    [guide] = registered(env, GUIDE)
    assert [a["alias"] for a in guide.get("aliases", [])] == ["champion"], guide
