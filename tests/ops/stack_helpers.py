"""Reading a running ``fitting-room stack`` from outside: its config, env file, buckets, tables
and processes. Used by the stack's tests."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from fitting_room.config import load_config

ROOT = Path(__file__).resolve().parents[2]
needs_postgres = pytest.mark.skipif(
    not any(Path("/usr/lib/postgresql").glob("*/bin/postgres")), reason="Debian's postgresql is not installed"
)


def stack_config(project: Path, *overrides: str):
    """The checkout's params with the stack folder in ``project`` (``overrides`` come after)."""
    return load_config(ROOT / "params.yaml", None, [f"stack.dir={project / '.stack'}", *overrides])


def read_env(path: Path) -> dict[str, str]:
    """The variables of the stack's env file (``export KEY='value'`` lines)."""
    env = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    return env


def bucket_objects(env: dict[str, str], bucket: str) -> dict[str, str]:
    """Every object in ``bucket`` of the stack's S3 store, key -> ETag (the MD5 of its bytes), with
    boto3 and the env file's credentials."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {obj["Key"]: obj["ETag"] for page in pages for obj in page.get("Contents", [])}


def bucket_keys(env: dict[str, str], bucket: str) -> list[str]:
    """Every object key in ``bucket`` of the stack's S3 store."""
    return list(bucket_objects(env, bucket))


def postgres_rows(state: dict, database: str, sql: str, *params) -> list[tuple]:
    """The rows ``sql`` selects in ``database`` of the stack's PostgreSQL (``state``: its ``state.json``)."""
    import psycopg

    dsn = f"host=127.0.0.1 port={state['ports']['postgres']} user=postgres password={state['password']}"
    with psycopg.connect(f"{dsn} dbname={database}") as conn:
        return list(conn.execute(sql, params or None))


def postgres_tables(state: dict, database: str) -> set[str]:
    """Table names in ``database`` of the stack's PostgreSQL."""
    sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    return {row[0] for row in postgres_rows(state, database, sql)}


def stack_processes(statuses) -> list[psutil.Process]:
    """The stack's server processes and all their descendants, as they are now."""
    out = []
    for status in statuses:
        if status.pid and psutil.pid_exists(status.pid):
            proc = psutil.Process(status.pid)
            out += [proc, *proc.children(recursive=True)]
    return out


def still_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``procs`` that still run (an exited child not yet reaped counts as ended)."""
    out = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out
