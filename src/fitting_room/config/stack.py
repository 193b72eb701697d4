"""Config section for the local server stack (``stack:``): where it lives and which ports it uses."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fitting_room.config.base import Section

# 0 = a free port is picked at `stack up` and kept in the stack's state file for later ups
Port = Field(0, ge=0, le=65535)


class StackPorts(Section):
    postgres: int = Port  # PostgreSQL (MLflow's and Prefect's databases)
    s3: int = Port  # the S3-API object store (MLflow artifacts, the DVC remote)
    mlflow: int = Port  # MLflow tracking server (artifacts proxied to S3)
    prefect: int = Port  # Prefect API server and UI


class StackConfig(Section):
    dir: Path = Path(".stack")  # logs, pid/state files, env file, databases (git-ignored)
    host: str = Field("127.0.0.1", pattern=r"^127\.\d+\.\d+\.\d+$")  # loopback only: a dev/CI stack
    ports: StackPorts = StackPorts()
    mlflow_bucket: str = Field("fitting-room-mlflow", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")  # S3 bucket
    dvc_bucket: str = Field("fitting-room-dvc", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")  # S3 bucket
    start_timeout_s: float = Field(300.0, gt=0)  # seconds each server gets to answer its health check
