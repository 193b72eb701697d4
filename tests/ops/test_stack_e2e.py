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
  ``rollback`` commands run against the server;
- then the stack's life on the same servers (one stack instead of one per test: each start is
  half a minute): ``up`` again starts nothing; faults, each leaving the stack up and well for
  the next: PostgreSQL restarted under the servers, the Prefect server killed under the worker,
  the MLflow server killed in the middle of ``fit_recommender``; last, ``down`` stops exactly the
  stack and gives the DVC default back, and ``up`` after it finds the registry and the objects.

Every server binds 127.0.0.1 and every client here talks only to them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
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
    bucket_objects,
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
from fitting_room.recommender.guide import ShoppingGuide
from fitting_room.tracking.roles import ROLES, registered_name

PROFILE = "smoke"
RUN_TIMEOUT_S = 1800.0  # trigger to final state: 168 s on an idle 2-core machine, allow a busy CI runner
pytestmark = [pytest.mark.slow, needs_postgres, pytest.mark.timeout(RUN_TIMEOUT_S + 900)]
REASON = "e2e: guide version 2 recommends out-of-stock items"
RETRY_ONCE = "ops.task_retries.retries=1;ops.task_retries.delay_s=0"


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
    dvc(project, "remote", "add", "--local", "-d", "mine", str(work / "remote"))  # the site's own default
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
            work=work,
            bentoml_home=work / "bentoml",
            worker_log=work / "stack" / "logs" / "worker.log",
        )
        procs = stack_processes(stack_status(cfg, project))
    finally:
        stopped = stack_down(cfg, project, purge=True)
    assert stopped == ["worker", "prefect", "mlflow", "s3", "postgres"]
    assert not still_running(procs), still_running(procs)
    assert not (work / "stack").exists() and not Path(state["pg_dir"]).exists()
    assert dvc(project, "remote", "default") == "mine"  # the site's default is back


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
        assert model["registry"] == stack.env["MLFLOW_TRACKING_URI"]  # the MLflow server's registry
        assert (model["model"], model["version"], model["run_id"]) == (
            version["name"],
            version["version"],
            version["run_id"],
        )
        assert model["run"]["prefect_flow_run_id"] == str(training.flow_run.id)
        assert model["run"]["git_commit"] == stack.head
        assert model["dvc_remote"] == f"s3://{stack.cfg.stack.dvc_bucket}/dvc"  # where its data versions are
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


def test_up_again_starts_nothing(stack, training):
    before = stack_status(stack.cfg, stack.project)
    again, _ = stack_up(stack.cfg, stack.project, site_env(stack.project, stack.work))
    assert [(s.name, s.pid, s.running) for s in again] == [(s.name, s.pid, True) for s in before]
    assert dvc(stack.project, "remote", "default") == DVC_REMOTE  # the stack's bucket while it runs


def prefect_reads_its_database(env: dict[str, str]) -> int:
    """Status of a Prefect API call that queries its PostgreSQL tables (filter the flows)."""
    request = urllib.request.Request(
        f"{env['PREFECT_API_URL']}/flows/filter",
        data=json.dumps({"limit": 1}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status


def test_postgres_restarted_under_the_servers_comes_back_alone_on_its_port_and_they_reconnect(
    stack, training
):
    from fitting_room.ops.preflight import check_artifact_store

    before = stack_status(stack.cfg, stack.project)
    postgres = next(s for s in before if s.name == "postgres")
    os.kill(postgres.pid, signal.SIGINT)  # fast shutdown: every server connection is cut
    psutil.Process(postgres.pid).wait(60)
    again, _ = stack_up(stack.cfg, stack.project, site_env(stack.project, stack.work))
    assert [s.name for s, old in zip(again, before, strict=True) if s.pid != old.pid] == ["postgres"]
    assert [s.url for s in again] == [s.url for s in before]  # same ports: the servers' URLs hold
    # MLflow reads its tables and stores through S3 again; Prefect reads its tables
    assert champion(stack, "generator")["version"]
    assert check_artifact_store(stack.env["MLFLOW_TRACKING_URI"], stack.cfg.ops.tracking_check)
    assert prefect_reads_its_database(stack.env) == 200


def test_the_worker_rides_out_a_prefect_server_outage_and_runs_the_next_trigger(stack, training):
    """The Prefect server killed under its worker (last here: the outage ends the module's use of it).

    While it is down, a command that needs it ends on one line naming it (exit 75); the worker
    keeps running (its client retries each call with back-off); ``stack up`` restarts only the
    server, on its port; the next trigger is picked up by the same worker process and runs
    (a no-op: nothing changed since the training run).
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    before = {s.name: s for s in stack_status(stack.cfg, stack.project)}
    server = psutil.Process(before["prefect"].pid)
    tree = [*server.children(recursive=True), server]
    for proc in tree:
        proc.kill()
    psutil.wait_procs(tree, timeout=30)
    api = stack.env["PREFECT_API_URL"]

    down = subprocess.run(
        [sys.executable, "flows/deploy.py", "--profile", PROFILE],
        cwd=stack.project,
        env=stack.client_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert down.returncode == 75, down.stderr[-3000:]
    assert down.stderr.strip().splitlines()[-1].startswith(f"error: Prefect server {api} is unreachable (")
    time.sleep(20)  # past the worker's next poll (every 10 s): it now retries against a closed port
    assert worker_running(stack)

    after = {s.name: s for s in stack_up(stack.cfg, stack.project, site_env(stack.project, stack.work))[0]}
    assert after["worker"].pid == before["worker"].pid and after["mlflow"].pid == before["mlflow"].pid
    assert after["prefect"].pid != before["prefect"].pid and after["prefect"].url == before["prefect"].url
    with temporary_settings(updates={PREFECT_API_URL: api}):
        flow_run = trigger(TRAINING)
        final = wait_final(
            flow_run.id, lambda: worker_running(stack), stack.worker_log, RUN_TIMEOUT_S, poll_s=2.0
        )
    assert final.state.is_completed(), final.state
    assert str(final.id) in stack.worker_log.read_text()  # submitted by the worker that rode it out
    assert worker_running(stack)
    assert (
        next(s for s in stack_status(stack.cfg, stack.project) if s.name == "worker").pid
        == before["worker"].pid
    )


def stage_running(stack, stage: str) -> bool:
    """Whether the server holds a RUNNING run of ``stage`` (False while it does not answer)."""
    experiment = stack.cfg.tracking.experiment
    try:
        found = mlflow_api(stack, "experiments/get-by-name", experiment_name=experiment)
        body = {
            "experiment_ids": [found["experiment"]["experiment_id"]],
            "filter": f"tags.stage = '{stage}' and attributes.status = 'RUNNING'",
        }
        return bool(mlflow_api(stack, "runs/search", body).get("runs"))
    except OSError:
        return False


def test_mlflow_killed_mid_stage_fails_the_run_promotes_nothing_and_a_rerun_resumes(stack, training):
    """The MLflow server killed (SIGKILL, its whole tree) while ``fit_recommender`` talks to it.

    The training flow runs as a script against the stack's servers, up to ``fit_recommender``
    with a changed ranker param (so that stage alone re-runs) and one immediate Prefect retry of
    a stage that lost its server. The stage exits 75, is retried once in vain, and the run ends,
    exit 75, on one error naming the stage and the server; the champion has not moved and the
    guide folder is whole (replaced only once complete; a DVC output, never what serves). After
    ``stack up`` restarts the server (same port), the same command finishes, DVC skipping the
    stages that had finished, and the new guide passes its gate.
    """
    sets = ";".join([stack.client_env["FITTING_ROOM_SET"], "recommender.ranker.candidates=90", RETRY_ONCE])
    env = {**stack.client_env, "FITTING_ROOM_SET": sets}
    guide_before = champion(stack, "guide")["version"]

    def run_flow() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "flows/training_pipeline.py", "--profile", PROFILE, "--until", "fit_recommender",
             "--no-push"],
            cwd=stack.project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    flow = run_flow()
    deadline = time.monotonic() + 900
    while not stage_running(stack, "fit_recommender"):
        assert flow.poll() is None, flow.stdout.read()[-4000:]
        assert time.monotonic() < deadline, "fit_recommender never started"
        time.sleep(1)
    server = psutil.Process(next(s for s in stack_status(stack.cfg, stack.project) if s.name == "mlflow").pid)
    for proc in [*server.children(recursive=True), server]:
        proc.kill()
    output = flow.communicate(timeout=900)[0]

    assert flow.returncode == 75, output[-4000:]  # EX_TEMPFAIL: may succeed once the server is back
    # the stage exited 75 (a server went away) and Prefect retried it once, in vain: bounded
    assert "Retry 1/1 will start immediately" in output and "Retries are exhausted" in output, output[-4000:]
    # the flow's last word: one error naming the stage, then the stage's last lines, whose own
    # last word names the server (not MLflow's traceback of the call that failed)
    error = output[output.rindex("\nerror: ") + 1 :].rstrip().splitlines()
    assert error[0].startswith("error: stage 'fit_recommender' failed"), output[-4000:]
    assert all(line.startswith("  | ") for line in error[1:]), error
    uri = stack.env["MLFLOW_TRACKING_URI"]
    assert error[-1].startswith(f"  | error: MLflow tracking server {uri} stopped answering"), error
    models = stack.project / "models"
    ShoppingGuide.load(models / "recommender")
    assert not list(models.glob(".recommender.*")), list(models.iterdir())  # no staging folder left

    stack_up(stack.cfg, stack.project, site_env(stack.project, stack.work))  # MLflow alone, same port
    assert champion(stack, "guide")["version"] == guide_before  # nothing promoted
    again = run_flow()
    output = again.communicate(timeout=900)[0]
    assert again.returncode == 0, output[-4000:]
    assert "validate_shoppers: unchanged, skipped" in output, output[-4000:]  # DVC kept what had finished
    final = next(line for line in output.splitlines() if line.startswith("pipeline finished: re-ran "))
    assert "fit_recommender" in final and "validate_shoppers" not in final and "ingest" not in final
    assert int(champion(stack, "guide")["version"]) > int(guide_before)


def test_down_stops_exactly_the_stack_and_up_after_it_finds_the_registry_and_the_objects(stack, training):
    """Last: ``down`` (no purge) and ``up`` again; the module's teardown then purges."""
    procs = stack_processes(stack_status(stack.cfg, stack.project))
    buckets = (stack.cfg.stack.mlflow_bucket, stack.cfg.stack.dvc_bucket)
    objects = {bucket: bucket_objects(stack.env, bucket) for bucket in buckets}
    assert all(objects.values())  # models, run artifacts and the DVC cache are in the store
    generator = champion(stack, "generator")["version"]

    assert stack_down(stack.cfg, stack.project) == ["worker", "prefect", "mlflow", "s3", "postgres"]
    assert not still_running(procs), still_running(procs)
    assert dvc(stack.project, "remote", "default") == "mine"  # the site's default is back
    assert stack_down(stack.cfg, stack.project) == []  # nothing left to stop

    _, env_file = stack_up(stack.cfg, stack.project, site_env(stack.project, stack.work))
    stack.env.update(read_env(env_file))
    assert dvc(stack.project, "remote", "default") == DVC_REMOTE
    assert champion(stack, "generator")["version"] == generator  # PostgreSQL kept the registry on disk
    # the S3 store kept every object, byte for byte (ETag: the MD5 of its content)
    assert {bucket: bucket_objects(stack.env, bucket) for bucket in buckets} == objects
