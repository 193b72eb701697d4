"""Production mode end to end: the smoke pipeline run by the stack's worker, checked on the servers.

One scenario in module fixtures (the pipeline run is most of the time, so the tests share it; a
state a test needs comes from a fixture, never from an earlier test):

- ``stack``: ``fitting-room stack up`` (its folder in tmp, free ports) for a throwaway git + DVC
  copy of the project (``project_builders.copy_project``: the working tree's code and params,
  400 fixture shopper rows, Fashion-MNIST from the Debian package), the worker configured as a
  site would (shopper data path, BentoML store). Teardown is ``stack down --purge`` and fails
  when a stack process is left;
- ``training``: the deployments of ``flows/deploy.py`` registered on the stack's Prefect server,
  and one run of the training deployment on the smoke profile (every stage through ``package``,
  then ``dvc push``) executed by the stack's worker, timed from trigger to final state;
- each test reads one outcome back from the server that holds it: the MLflow REST API, the S3
  buckets (boto3), PostgreSQL, a fresh ``git clone`` + ``dvc pull``, and the ``lineage`` and
  ``rollback`` commands run against the server.

Every server binds 127.0.0.1 and every client here talks only to them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.error import HTTPError

import psutil
import pytest
import yaml
from project_builders import TRAINING, commit, copy_project, register_deployments, trigger, wait_final
from stack_helpers import (
    bucket_keys,
    needs_postgres,
    postgres_rows,
    postgres_tables,
    read_env,
    stack_config,
    stack_processes,
    still_running,
)

from fitting_room.ops.stack import DVC_REMOTE, stack_down, stack_status, stack_up
from fitting_room.pipeline.dvc_stages import pipeline_stages
from fitting_room.tracking.roles import ROLES, registered_name

PROFILE = "smoke"
RUN_TIMEOUT_S = 1800.0  # trigger to final state: 168 s on an idle 2-core machine, allow a busy CI runner
pytestmark = [pytest.mark.slow, needs_postgres, pytest.mark.timeout(RUN_TIMEOUT_S + 900)]
REASON = "e2e: guide version 2 recommends out-of-stock items"


def site_env(project: Path, work: Path) -> dict[str, str]:
    """What ``stack up`` hands its servers and worker: this environment without the test runner's
    variables and any fitting-room settings, plus what a site configures for its runs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "FITTING_ROOM_")) and k != "MLFLOW_REGISTRY_URI"
    }
    return {
        **env,
        "FITTING_ROOM_SET": f"data.shoppers.sources.0.path={project / 'rtr.json'}",
        "BENTOML_HOME": str(work / "bentoml"),
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The stack up for a throwaway project; down (purged) afterwards, leaving no process behind."""
    work = tmp_path_factory.mktemp("e2e")
    project = copy_project(work / "project")
    head = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=project, text=True).strip()
    # the stack folder outside the project: neither git nor DVC sees it
    cfg = stack_config(project, f"stack.dir={work / 'stack'}")
    site = site_env(project, work)
    try:
        _, env_file = stack_up(cfg, project, site)
        state = json.loads((work / "stack" / "state.json").read_text())
        env = read_env(env_file)
        yield SimpleNamespace(
            project=project,
            head=head,
            cfg=cfg,
            state=state,
            env=env,
            client_env={**site, **env},  # a shell that ran `source .stack/env`
            bentoml_home=work / "bentoml",
            worker_log=work / "stack" / "logs" / "worker.log",
        )
        procs = stack_processes(stack_status(cfg, project))
    finally:
        stopped = stack_down(cfg, project, purge=True)
    assert stopped == ["worker", "prefect", "mlflow", "s3", "postgres"]
    assert not still_running(procs), still_running(procs)
    assert not (work / "stack").exists() and not Path(state["pg_dir"]).exists()


def worker_running(stack) -> bool:
    return next(s for s in stack_status(stack.cfg, stack.project) if s.name == "worker").running


@pytest.fixture(scope="module")
def training(stack):
    """One run of the training deployment on the stack, from trigger to its final state."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: stack.env["PREFECT_API_URL"]}):
        deployments = register_deployments(stack.project)
        start = time.perf_counter()
        flow_run = trigger(TRAINING)
        final = wait_final(
            flow_run.id, lambda: worker_running(stack), stack.worker_log, RUN_TIMEOUT_S, poll_s=2.0
        )
        seconds = time.perf_counter() - start
    return SimpleNamespace(deployments=deployments, flow_run=final, seconds=seconds)


def mlflow_api(stack, endpoint: str, body: dict | None = None, **query: str) -> dict:
    """One MLflow REST call to the stack's server: GET with ``query``, or POST ``body``."""
    url = f"{stack.env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/{endpoint}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def tags(entity: dict) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in entity.get("tags", [])}


def champion(stack, role: str) -> dict:
    name = registered_name(role, PROFILE)
    return mlflow_api(stack, "registered-models/alias", name=name, alias="champion")["model_version"]


@pytest.fixture(scope="module")
def runs(stack, training) -> dict[str, dict]:
    """Stage -> MLflow run (REST) of every run the flow run logged; ``pipeline`` is the parent."""
    experiment = mlflow_api(stack, "experiments/get-by-name", experiment_name=stack.cfg.tracking.experiment)
    body = {
        "experiment_ids": [experiment["experiment"]["experiment_id"]],
        "filter": f"tags.prefect_flow_run_id = '{training.flow_run.id}'",
        "max_results": 100,
    }
    found = mlflow_api(stack, "runs/search", body).get("runs", [])
    return {tags(run["data"])["stage"]: run for run in found}


@pytest.fixture(scope="module")
def champions(stack, training) -> dict[str, dict]:
    """Role -> the server's champion version right after the run (read at once: a later
    fixture moves the guide's alias and back)."""
    return {role: champion(stack, role) for role in ROLES}


def fitting_room(stack, *args: str) -> str:
    """``fitting-room --profile smoke ARGS`` in the project against the stack's servers; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "fitting_room", "--profile", PROFILE, *args],
        cwd=stack.project,
        env=stack.client_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def dvc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dvc")), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"dvc {' '.join(args)} in {cwd}:\n{done.stderr[-2000:]}"
    return done.stdout.strip()


def cached_outputs(project: Path) -> dict[str, str]:
    """Path -> md5 in ``dvc.lock`` of every output ``dvc.yaml`` caches (what ``dvc push`` sends)."""
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    cached = {out for stage in stages.values() for out in stage.get("outs", []) if isinstance(out, str)}
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    outs = {out["path"]: out["md5"] for stage in lock.values() for out in stage.get("outs", [])}
    assert cached <= set(outs), f"no dvc.lock entry for {cached - set(outs)}"
    return {path: outs[path] for path in cached}


def file_hashes(root: Path, paths) -> dict[str, str]:
    """Relative path -> sha256 of every file in ``paths`` (files or folders) under ``root``."""
    hashes = {}
    for rel in paths:
        top = root / rel
        for path in [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file()):
            hashes[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


@pytest.fixture(scope="module")
def clone(stack, training, tmp_path_factory) -> Path:
    """A teammate's fresh ``git clone`` of the project after the run, then ``dvc pull``.

    ``dvc.lock`` is committed first, as the flow asks; the clone names the stack's bucket as its
    DVC remote by URL alone: the endpoint and credentials come from the env file's variables.
    """
    commit(stack.project, "version the trained data and models", "dvc.lock")
    dest = tmp_path_factory.mktemp("teammate") / "project"
    subprocess.run(["git", "clone", "-q", str(stack.project), str(dest)], check=True)
    url = dvc(stack.project, "config", "--local", f"remote.{DVC_REMOTE}.url")
    dvc(dest, "remote", "add", "--local", "-d", DVC_REMOTE, url)
    dvc(dest, "pull", env=stack.client_env)
    return dest


@pytest.fixture(scope="module")
def guide_rollback(stack, champions):
    """A second guide version made champion (registered from the first one's logged model, standing
    in for a later training run), then ``fitting-room rollback guide --to <first>`` on the server."""
    first = champions["guide"]
    version = {
        "name": first["name"],
        "source": first["source"],
        "run_id": first["run_id"],
        "model_id": first["source"].removeprefix("models:/"),
    }
    second = mlflow_api(stack, "model-versions/create", version)["model_version"]["version"]
    alias = {"name": first["name"], "alias": "champion", "version": second}
    mlflow_api(stack, "registered-models/alias", alias)
    output = fitting_room(stack, "rollback", "guide", "--to", first["version"], "--reason", REASON)
    return SimpleNamespace(name=first["name"], first=first["version"], second=second, output=output)


def test_the_training_deployment_ran_every_stage_on_the_stacks_worker(stack, training, runs, record_property):
    record_property("e2e_training_run_s", round(training.seconds, 1))
    flow_run = training.flow_run
    running = (flow_run.end_time - flow_run.start_time).total_seconds()
    print(
        f"training deployment run (smoke, every stage): trigger to {flow_run.state_name} "
        f"in {training.seconds:.1f} s ({running:.1f} s Running)"
    )

    assert flow_run.state.is_completed(), flow_run.state
    assert str(flow_run.deployment_id) == training.deployments[TRAINING]
    assert flow_run.work_pool_name == stack.cfg.ops.schedule.work_pool
    assert flow_run.parameters == {"profile": PROFILE}  # the deployment's own: the whole pipeline
    stages = pipeline_stages(stack.project)
    parent = tags(runs["pipeline"]["data"])
    assert parent["noop"] == "false" and parent["dvc_remote"] == DVC_REMOTE
    assert {s: parent[f"stage.{s}"] for s in stages} == dict.fromkeys(stages, "ran")
    # every stage that ran (configure has no run of its own) logged a finished child run
    assert set(runs) == {"pipeline", *stages} - {"configure"}
    parent_id = runs["pipeline"]["info"]["run_id"]
    for stage, run in runs.items():
        assert run["info"]["status"] == "FINISHED", stage
        assert tags(run["data"])["profile"] == PROFILE
        if stage != "pipeline":
            assert tags(run["data"])["mlflow.parentRunId"] == parent_id


def test_each_model_has_a_gated_champion_under_its_smoke_name_and_production_names_stay_free(
    stack, runs, champions
):
    trained_by = {"generator": "evaluate_gan", "guide": "fit_recommender"}  # the stage that registers it
    for role, version in champions.items():
        assert version["name"] == f"fitting-room-{role}-smoke"
        assert version["version"] == "1"  # the first run on a fresh server
        assert tags(version)["gate.passed"] == "true" and tags(version)["profile"] == PROFILE
        assert version["run_id"] == runs[trained_by[role]]["info"]["run_id"]
        with pytest.raises(HTTPError) as missing:
            mlflow_api(stack, "registered-models/get", name=registered_name(role))
        assert missing.value.code == 404  # a smoke run never registers the production names


def test_model_and_run_artifacts_are_objects_in_the_mlflow_bucket(stack, runs, champions):
    keys = set(bucket_keys(stack.env, stack.cfg.stack.mlflow_bucket))
    for version in champions.values():
        model_id = version["source"].removeprefix("models:/")
        uri = mlflow_api(stack, f"logged-models/{model_id}")["model"]["info"]["artifact_uri"]
        # the server proxies mlflow-artifacts:/X to s3://<bucket>/artifacts/X (stack up's destination)
        prefix = "artifacts/" + uri.removeprefix("mlflow-artifacts:/")
        files = ("MLmodel", "requirements.txt", "code/fitting_room/__init__.py")
        assert {f"{prefix}/{name}" for name in files} <= keys, (prefix, sorted(keys)[:20])
    package_run = runs["package"]["info"]["run_id"]
    assert any(key.endswith(f"{package_run}/artifacts/serving/current-smoke.json") for key in keys)


def test_mlflow_and_prefect_keep_their_state_in_postgresql(stack, training, champions):
    assert {"runs", "registered_models", "model_versions", "registered_model_aliases"} <= postgres_tables(
        stack.state, "mlflow"
    )
    assert {"flow_run", "task_run", "deployment", "work_pool"} <= postgres_tables(stack.state, "prefect")
    aliases = postgres_rows(
        stack.state, "mlflow", "SELECT name, version FROM registered_model_aliases WHERE alias = 'champion'"
    )
    assert {(name, str(version)) for name, version in aliases} >= {
        (v["name"], v["version"]) for v in champions.values()
    }
    (state,) = postgres_rows(
        stack.state, "prefect", "SELECT state_type FROM flow_run WHERE id = %s", training.flow_run.id
    )
    assert str(state[0]).endswith("COMPLETED")


def test_dvc_push_sent_every_cached_output_to_the_stacks_bucket(stack, training):
    url = dvc(stack.project, "config", "--local", f"remote.{DVC_REMOTE}.url")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    assert bucket == stack.cfg.stack.dvc_bucket
    keys = set(bucket_keys(stack.env, bucket))
    outputs = cached_outputs(stack.project)
    assert {"data/images", "data/shoppers/validated.parquet", "models/gan", "models/bento"} <= set(outputs)
    missing = {p: md5 for p, md5 in outputs.items() if f"{prefix}/files/md5/{md5[:2]}/{md5[2:]}" not in keys}
    assert not missing, missing


def test_a_fresh_clone_pulls_the_same_data_and_models_from_the_stack(stack, clone):
    outputs = cached_outputs(stack.project)
    original = file_hashes(stack.project, outputs)
    assert {"data/images/train.npz", "data/shoppers/validated.parquet"} <= set(original)
    assert file_hashes(clone, outputs) == original


def test_the_package_stage_built_the_bento_from_the_servers_champions(stack, champions):
    current = json.loads((stack.project / "models/bento/current-smoke.json").read_text())
    name, _, version = current["bento"].partition(":")
    assert name == "fitting-room-smoke"
    pinned = {m["role"]: (m["registered_name"], m["mlflow_version"]) for m in current["models"]}
    assert pinned == {role: (v["name"], v["version"]) for role, v in champions.items()}
    assert current["smoke_check"]["passed"] is True
    assert (stack.bentoml_home / "bentos" / name / version / "bento.yaml").is_file()


def test_lineage_of_the_bento_read_from_the_server_names_the_champions_and_their_flow_run(
    stack, training, champions
):
    current = json.loads((stack.project / "models/bento/current-smoke.json").read_text())
    doc = json.loads(fitting_room(stack, "lineage", "bento", "--json"))
    assert doc["bento"] == current["bento"]
    lock = cached_outputs(stack.project)
    for role, version in champions.items():
        model = doc["models"][role]
        assert (model["model"], model["version"], model["run_id"]) == (
            version["name"],
            version["version"],
            version["run_id"],
        )
        assert model["run"]["prefect_flow_run_id"] == str(training.flow_run.id)
        assert model["run"]["git_commit"] == stack.head
        assert {stage: v["success"] for stage, v in model["validation"].items()} == {
            "validate_images": "true",
            "validate_shoppers": "true",
        }
    trained_on = doc["models"]["guide"]["dvc_data_hashes"]["data/shoppers/validated.parquet"]
    assert trained_on == lock["data/shoppers/validated.parquet"]


def test_rollback_of_the_guide_on_the_server_moves_its_champion_back_with_an_audit_record(
    stack, guide_rollback
):
    rolled = guide_rollback
    assert f"champion -> version {rolled.first}" in rolled.output
    assert champion(stack, "guide")["version"] == rolled.first != rolled.second
    assert champion(stack, "generator")["version"] == "1"  # only the guide moved
    model = mlflow_api(stack, "registered-models/get", name=rolled.name)["registered_model"]
    audit = sorted(
        (json.loads(v) for k, v in tags(model).items() if k.startswith("audit.")), key=lambda r: r["at"]
    )
    assert [r["action"] for r in audit] == ["alias:champion", "rollback"]
    last = audit[-1]
    assert (last["from_version"], last["to_version"], last["reason"]) == (rolled.second, rolled.first, REASON)


def on_loopback(sock) -> bool:
    return sock.laddr.ip == "127.0.0.1" and (not sock.raddr or sock.raddr.ip == "127.0.0.1")


def test_every_stack_socket_is_on_loopback(stack, training):
    sockets = []
    for proc in stack_processes(stack_status(stack.cfg, stack.project)):
        with contextlib.suppress(psutil.NoSuchProcess):  # a backend that ended meanwhile
            sockets += proc.net_connections("inet")
    assert any(s.status == psutil.CONN_LISTEN for s in sockets)
    off_loopback = [s for s in sockets if not on_loopback(s)]
    assert not off_loopback, off_loopback
