"""`fitting-room stack`: real PostgreSQL, moto S3, MLflow and Prefect servers on loopback.

One lifecycle test (up, use, up again, down, up, down --purge) because each step's check is
about what the step before left behind; the port check needs no server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from fitting_room.config import load_config
from fitting_room.ops.stack import StackError, stack_down, stack_status, stack_up

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not any(Path("/usr/lib/postgresql").glob("*/bin/postgres")), reason="Debian's postgresql is not installed"
)


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


def config(project: Path, *overrides: str):
    return load_config(ROOT / "params.yaml", None, [f"stack.dir={project / '.stack'}", *overrides])


def dvc_default(project: Path) -> str:
    dvc = str(Path(sys.executable).with_name("dvc"))
    return subprocess.run(
        [dvc, "remote", "default"], cwd=project, capture_output=True, text=True
    ).stdout.strip()


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    return env


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


def bucket_keys(env: dict[str, str], bucket: str) -> list[str]:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    return [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def postgres_tables(state: dict, database: str) -> set[str]:
    import psycopg

    dsn = f"host=127.0.0.1 port={state['ports']['postgres']} user=postgres password={state['password']}"
    with psycopg.connect(f"{dsn} dbname={database}") as conn:
        return {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def stack_processes(statuses) -> list[psutil.Process]:
    out = []
    for status in statuses:
        if status.pid and psutil.pid_exists(status.pid):
            proc = psutil.Process(status.pid)
            out += [proc, *proc.children(recursive=True)]
    return out


def test_a_port_in_use_is_named_before_anything_starts(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=rf"port 127\.0\.0\.1:{port} \(stack\.ports\.mlflow"):
            stack_up(config(project, f"stack.ports.mlflow={port}"), project, dict(os.environ))
    assert not any(s.running for s in stack_status(config(project), project))


@pytest.mark.slow
def test_stack_lifecycle_up_is_idempotent_down_stops_exactly_it_and_data_survives(project):
    cfg = config(project)
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

        # down: exactly those processes end, and the previous DVC default is back
        assert stack_down(cfg, project) == ["worker", "prefect", "mlflow", "s3", "postgres"]
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs)
        assert dvc_default(project) == "mine"
        assert stack_down(cfg, project) == []

        # up after down: the run and its artifact are still there (PostgreSQL on disk, S3 replayed)
        stack_up(cfg, project, dict(os.environ))
        env = read_env(env_file)
        assert read_artifact(env, run_id) == "hello from the stack"
    finally:
        stack_down(cfg, project, purge=True)
    assert not (project / ".stack").exists()
