"""`fitting-room stack`: real PostgreSQL, moto S3, MLflow and Prefect servers on loopback.

One lifecycle test (up, use, up again, down, up, down --purge) because each step's check is
about what the step before left behind; the port check needs no server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest
from stack_helpers import (
    bucket_keys,
    needs_postgres,
    postgres_tables,
    read_env,
    stack_config,
    stack_processes,
    still_running,
)

from fitting_room.ops.stack import StackError, stack_down, stack_status, stack_up
from fitting_room.ops.stack import _ports as stack_ports

pytestmark = needs_postgres


@pytest.fixture
def project(tmp_path) -> Path:
    """A throwaway DVC project (git + dvc init) with its own local default remote."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(
        [dvc, "remote", "add", "--local", "-d", "mine", str(tmp_path / "remote")], cwd=tmp_path, check=True
    )
    return tmp_path


def dvc_default(project: Path) -> str:
    dvc = str(Path(sys.executable).with_name("dvc"))
    return subprocess.run(
        [dvc, "remote", "default"], cwd=project, capture_output=True, text=True
    ).stdout.strip()


def log_artifact(env: dict[str, str], text: str) -> str:
    """Log a run with one text artifact through the MLflow server, in a child process; its run id."""
    code = (
        "import mlflow; mlflow.set_experiment('stack-test')\n"
        f"with mlflow.start_run() as run: mlflow.log_text({text!r}, 'note.txt')\n"
        "print(run.info.run_id)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def read_artifact(env: dict[str, str], run_id: str) -> str:
    code = f"import mlflow; print(mlflow.artifacts.load_text('runs:/{run_id}/note.txt'))"
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def prefect_reads_its_database(env: dict[str, str]) -> int:
    """Status of a Prefect API call that queries its PostgreSQL tables (filter the flows)."""
    request = urllib.request.Request(
        f"{env['PREFECT_API_URL']}/flows/filter",
        data=json.dumps({"limit": 1}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status


def test_a_port_in_use_is_named_before_anything_starts(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=rf"port 127\.0\.0\.1:{port} \(stack\.ports\.mlflow"):
            stack_up(stack_config(project, f"stack.ports.mlflow={port}"), project, dict(os.environ))
    assert not any(s.running for s in stack_status(stack_config(project), project))


def test_a_server_restarted_while_others_run_keeps_its_port_or_names_who_took_it(project):
    cfg = stack_config(project)
    others = {"s3", "mlflow", "prefect", "worker"}  # running, started pointing at postgres's port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        had = {"ports": {"postgres": port, "s3": 1, "mlflow": 2, "prefect": 3}}
        with pytest.raises(StackError, match=rf"port 127\.0\.0\.1:{port} of postgres, which the running m"):
            stack_ports(cfg, had, others)
    assert stack_ports(cfg, had, others)["postgres"] == port  # free again: the same port, not a new one


@pytest.mark.slow
def test_stack_lifecycle_up_is_idempotent_survives_a_postgres_restart_down_stops_exactly_it(project):
    cfg = stack_config(project)
    try:
        statuses, env_file = stack_up(cfg, project, dict(os.environ))
        assert [s.name for s in statuses if s.running] == ["postgres", "s3", "mlflow", "prefect", "worker"]
        env = read_env(env_file)
        assert env["MLFLOW_TRACKING_URI"].startswith("http://127.0.0.1:")
        assert env["PREFECT_API_URL"].endswith("/api")
        state = json.loads((project / ".stack" / "state.json").read_text())

        # every listening socket of the stack is on loopback
        procs = stack_processes(statuses)
        listening = [c.laddr for p in procs for c in p.net_connections("inet") if c.status == "LISTEN"]
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening

        # MLflow: runs in PostgreSQL, artifacts as objects in the bucket; Prefect's tables beside it
        run_id = log_artifact(env, "hello from the stack")
        assert any(
            key.endswith(f"{run_id}/artifacts/note.txt") for key in bucket_keys(env, cfg.stack.mlflow_bucket)
        )
        assert {"runs", "registered_models"} <= postgres_tables(state, "mlflow")
        assert {"flow_run", "work_pool", "worker"} <= postgres_tables(state, "prefect")
        with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=5) as answer:
            assert answer.status == 200

        # DVC: the stack's bucket is the default remote while it runs
        assert dvc_default(project) == "stack"

        # up again: nothing new starts
        again, _ = stack_up(cfg, project, dict(os.environ))
        assert [s.pid for s in again] == [s.pid for s in statuses]

        # PostgreSQL restarted under the servers: up starts it alone, on its port; they reconnect
        assert prefect_reads_its_database(env) == 200
        postgres = next(s for s in statuses if s.name == "postgres")
        os.kill(postgres.pid, signal.SIGINT)  # fast shutdown: every server connection is cut
        psutil.Process(postgres.pid).wait(60)
        again, _ = stack_up(cfg, project, dict(os.environ))
        restarted = [s.name for s, old in zip(again, statuses, strict=True) if s.pid != old.pid]
        assert restarted == ["postgres"]
        assert json.loads((project / ".stack" / "state.json").read_text())["ports"] == state["ports"]
        after = log_artifact(env, "after the restart")
        assert read_artifact(env, after) == "after the restart"
        assert prefect_reads_its_database(env) == 200
        statuses = again
        procs = stack_processes(statuses)

        # down: exactly those processes end, and the previous DVC default is back
        assert stack_down(cfg, project) == ["worker", "prefect", "mlflow", "s3", "postgres"]
        assert not still_running(procs)
        assert dvc_default(project) == "mine"
        assert stack_down(cfg, project) == []

        # up after down: the run and its artifact are still there (PostgreSQL on disk, S3 replayed)
        stack_up(cfg, project, dict(os.environ))
        env = read_env(env_file)
        assert read_artifact(env, run_id) == "hello from the stack"
    finally:
        stack_down(cfg, project, purge=True)
    assert not (project / ".stack").exists()
