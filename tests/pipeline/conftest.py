"""A throwaway copy of the project in its own git repo, for real DVC + Prefect runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # project_builders, shared with tests/ops

from project_builders import copy_project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project's pipeline files in a fresh git repo, with tiny shopper data of its own.

    Module-scoped: stage subprocesses cost seconds each, so the tests of a module share one
    project (and one MLflow store) and its DVC cache. A state a test needs comes from a
    fixture (a first run), never from an earlier test.
    """
    tmp_path = tmp_path_factory.mktemp("pipeline")
    proj = copy_project(tmp_path / "project")
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(proj)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
        for var in (
            "FITTING_ROOM_PROFILE",
            "FITTING_ROOM_SET",
            "FITTING_ROOM_PARAMS",
            "FITTING_ROOM_PARENT_RUN_ID",
        ):
            mp.delenv(var, raising=False)
        mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
        mlflow.set_tracking_uri(uri)
        yield proj
        mlflow.set_tracking_uri(None)
