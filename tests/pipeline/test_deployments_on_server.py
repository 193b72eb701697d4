"""The deployments on a real Prefect server with a real worker: one run at a time, the no-op, drift.

Module set-up (shared by the tests for speed; none needs another to have run first): a
``prefect server start`` subprocess on SQLite in a temp ``PREFECT_HOME``; the deployments
registered by ``flows/deploy.py`` from a throwaway git copy of the project
(``conftest.project``) on the smoke profile, schedules paused so no cron fires mid-test; a
``prefect worker start`` subprocess of the work pool, configured as a site would configure
it (environment: MLflow store, shopper data path). Fast path: the training deployment's
runs stop after ``ingest_shoppers`` (its ``until`` parameter) and the drift check compares
with the ingested transactions, so every run is seconds of real stages, not a GAN training.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from uuid import UUID

import mlflow
import psutil
import pytest
from project_builders import TRAINING, register_deployments, tail, trigger, write_rtr_lines
from project_builders import wait_final as wait_until_final

pytestmark = pytest.mark.slow
DRIFT = "drift-check/drift-check"
UNTIL = "ingest_shoppers"
SERVER_START_S = 300.0  # 11 s on an idle 2-core machine, 150 s seen at load average 16
RUN_TIMEOUT_S = 300.0  # one deployment run, queueing included, on a busy 2-core machine
NOOP_BOUND_S = 60.0  # twice the 30 s target: a no-op through the server must not do work


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(cmd: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """A subprocess in its own process group, output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )


def stop(proc: subprocess.Popen) -> None:
    """End ``proc``'s process group and every descendant's (the worker starts runs in new sessions)."""
    try:
        tree = [proc.pid, *(p.pid for p in psutil.Process(proc.pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        tree = [proc.pid]
    groups = set()
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(pid))
    # SIGINT (Ctrl-C) first: an idle `prefect worker` was seen to outlive a SIGTERM
    for sig in (signal.SIGINT, signal.SIGKILL):
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        time.sleep(0.5)  # runs in other groups end too before the SIGKILL sweep


def healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def prefect_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PREFECT_"))}
    return {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}


@pytest.fixture(scope="module")
def server(project, tmp_path_factory):
    """A real Prefect server (SQLite) this module's Prefect client talks to; yields its API URL."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = home / "server.log"
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    proc = start(cmd, log, prefect_env(home), home)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not healthy(url):
            assert proc.poll() is None, f"prefect server exited ({proc.returncode}):\n{tail(log)}"
            assert time.monotonic() < deadline, (
                f"prefect server not healthy after {SERVER_START_S:.0f} s:\n{tail(log)}"
            )
            time.sleep(0.5)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield {"url": url, "home": home, "log": log}
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def deployments(project, server):
    """The deployments of ``flows/deploy.py`` for the project copy; training runs stop after UNTIL."""
    return register_deployments(project, training_parameters={"profile": "smoke", "until": UNTIL})


@pytest.fixture(scope="module")
def worker(project, server, deployments):
    """A ``prefect worker start`` subprocess: runs what the server hands the pool, in the project."""
    settings = ";".join(
        [
            f"data.shoppers.sources.0.path={project / 'rtr.json'}",
            # the drift reference: what the fast-path training runs ingested
            "ops.drift.reference=data/shoppers/transactions.parquet",
        ]
    )
    env = prefect_env(
        server["home"],
        PREFECT_API_URL=server["url"],
        PREFECT_WORKER_QUERY_SECONDS="1",  # default 10 s: polling would dominate a no-op
        FITTING_ROOM_SET=settings,
    )
    log = server["home"] / "worker.log"
    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", deployments["pool"]]
    proc = start(cmd, log, env, project)
    try:
        yield {"log": log, "proc": proc}
    finally:
        stop(proc)


def wait_final(flow_run_id, worker, timeout_s: float = RUN_TIMEOUT_S):
    """The flow run once its state is final (fails with the worker's log on a timeout)."""
    return wait_until_final(flow_run_id, lambda: worker["proc"].poll() is None, worker["log"], timeout_s)


def parent_run(flow_run_id) -> mlflow.entities.Run:
    """The MLflow parent run a training flow run logged (exactly one)."""
    (run,) = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"tags.stage = 'pipeline' and tags.prefect_flow_run_id = '{flow_run_id}'",
        output_format="list",
    )
    return run


def logged(flow_run_id, text: str, timeout_s: float = 30.0) -> bool:
    """Whether the flow run logged ``text`` (logs reach the server in batches, after the state)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    flt = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while not any(text in entry.message for entry in client.read_logs(flt)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
    return True


def artifact(flow_run_id, key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    flt = ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), key=ArtifactFilterKey(any_=[key])
    )
    with get_client(sync_client=True) as client:
        (found,) = client.read_artifacts(artifact_filter=flt)
    return str(found.data)


def training_runs(deployments) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    flt = DeploymentFilter(id=DeploymentFilterId(any_=[UUID(deployments[TRAINING])]))
    with get_client(sync_client=True) as client:
        return {run.id: run for run in client.read_flow_runs(deployment_filter=flt)}


@pytest.fixture(scope="module")
def first_triggers(worker):
    """The project's first two training triggers, at once, and what the server recorded of them:
    every other test starts from a project trained once."""
    from prefect.client.orchestration import get_client

    first, second = trigger(TRAINING), trigger(TRAINING)
    runs = [wait_final(first.id, worker), wait_final(second.id, worker)]
    noop = {r.id: parent_run(r.id).data.tags["noop"] for r in runs}
    with get_client(sync_client=True) as client:
        history = {r.id: [s.name for s in client.read_flow_run_states(r.id)] for r in runs}
    return runs, noop, history


def test_two_triggers_at_once_give_one_working_run_and_one_queued_no_op(first_triggers):
    runs, noop, history = first_triggers
    assert [r.state.type.value for r in runs] == ["COMPLETED", "COMPLETED"]
    assert sorted(noop.values()) == ["false", "true"], noop
    worked = next(r for r in runs if noop[r.id] == "false")
    queued = next(r for r in runs if noop[r.id] == "true")
    assert parent_run(worked.id).data.tags[f"stage.{UNTIL}"] == "ran"
    # the deployment's concurrency limit held the second run back until the first finished
    assert "AwaitingConcurrencySlot" in history[queued.id]
    assert queued.start_time >= worked.end_time
    assert logged(queued.id, "no-op: data, params and code unchanged")


def test_an_unchanged_retrigger_through_the_server_is_a_no_op_that_says_so(
    worker, first_triggers, record_property
):
    start_s = time.perf_counter()
    run = wait_final(trigger(TRAINING).id, worker)
    seconds = time.perf_counter() - start_s
    record_property("noop_through_server_s", round(seconds, 1))
    print(f"unchanged deployment run: trigger to {run.state_name} in {seconds:.1f} s")

    assert run.state.is_completed()
    assert parent_run(run.id).data.tags["noop"] == "true"
    assert logged(run.id, "no-op: data, params and code unchanged")
    assert "**No-op**" in artifact(run.id, "training-pipeline-summary")
    assert seconds < NOOP_BOUND_S


def test_a_drift_check_without_drift_triggers_no_training_run(worker, first_triggers, deployments):
    before = set(training_runs(deployments))
    run = wait_final(trigger(DRIFT).id, worker)
    assert run.state.is_completed()
    assert set(training_runs(deployments)) == before
    assert "retraining: not triggered" in artifact(run.id, "drift-report")


def test_drifted_shopper_data_triggers_a_run_of_the_training_deployment(
    worker, first_triggers, deployments, project
):
    before = set(training_runs(deployments))
    taller = {str(i): {"height": "6' 3\""} for i in range(400)}
    write_rtr_lines(project / "rtr.json", 400, seed=2, **taller)  # the next drop, at the configured path

    run = wait_final(trigger(DRIFT).id, worker)
    assert run.state.is_completed()
    report = artifact(run.id, "drift-report")
    assert "drift: retraining triggered" in report and "height_cm" in report

    (new_id,) = set(training_runs(deployments)) - before
    retrain = wait_final(new_id, worker)
    assert retrain.state.is_completed()
    assert str(new_id) in report  # the report names the run it started
    tags = parent_run(new_id).data.tags
    assert tags["noop"] == "false" and tags[f"stage.{UNTIL}"] == "ran"
