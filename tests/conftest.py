"""Fixtures shared by every test tier: an isolated MLflow store and quiet libraries."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Library noise off for the whole session, before any of them is imported by a test.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
# MLflow 3 reports usage to its telemetry server from every process that imports it (outside
# CI); tests, and the servers and stages they start, talk to nothing but loopback
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch) -> Iterator[str]:
    """A real, empty MLflow SQLite store for one test (MLflow's global URIs reset afterwards)."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("FITTING_ROOM_PARENT_RUN_ID", raising=False)
    import mlflow

    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri(uri)
    # MLflow keeps the active experiment id in a process global; an id from an earlier
    # test's store does not exist in this one
    mlflow.set_experiment("Default")
    yield uri
    # MLflow's URI global wins over MLFLOW_TRACKING_URI: leave it unset for later tests
    mlflow.set_tracking_uri(None)
