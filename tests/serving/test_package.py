"""The package stage end to end: MLflow champions -> BentoML models -> bento -> smoke check -> current.

A real MLflow registry (SQLite in tmp) holds tiny real models under the ``champion`` alias; the
stage runs as ``fitting-room package`` in a subprocess with a private ``BENTOML_HOME``, builds
the bento from this checkout's ``bentofile.yaml`` and serves it for the smoke check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _builders():
    """The tier's model builders (a plain file here: pytest imports tests in importlib mode)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("serving_builders", Path(__file__).with_name("builders.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PARAMS = f"""
data:
  shoppers:
    sources: [{{name: renttherunway, path: rtr.json}}]
serving:
  bentofile: {ROOT / "bentofile.yaml"}
  build_ctx: {ROOT / "src"}
  max_k: 12
  batching: {{max_batch_size: 16}}
  smoke_check: {{repeats: 2, latency_budget_ms: 20000, startup_timeout_s: 240}}
profiles:
  smoke: {{}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict:
    """A project folder whose MLflow registry has a champion generator and guide."""
    import mlflow

    root = tmp_path_factory.mktemp("project")
    (root / "params.yaml").write_text(PARAMS)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.pop("FITTING_ROOM_PARENT_RUN_ID", None)
    env.pop("MLFLOW_REGISTRY_URI", None)  # the registry follows the tracking store
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        mp.chdir(root)  # MLflow's default artifact folder (./mlruns) lands in tmp
        mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
        # the global wins over the env var, and an earlier test may have set it
        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
        register_champions(root)
    mlflow.set_tracking_uri(None)
    return {"root": root, "env": env}


def register_champions(root: Path) -> None:
    import mlflow

    from fitting_room.gan.mlflow_model import log_generator_model
    from fitting_room.recommender.mlflow_models import log_guide_model

    builders = _builders()
    client = mlflow.MlflowClient()
    mlflow.set_experiment("models")
    with mlflow.start_run(tags={"git_commit": "abc123", "data_version": "d1", "params_hash": "p1"}):
        info = log_generator_model(builders.save_tiny_generator(root / "work"))
        mlflow.register_model(info.model_uri, "fitting-room-generator")
        info = log_guide_model(builders.build_guide(root / "work" / "guide"))
        mlflow.register_model(info.model_uri, "fitting-room-guide")
    for name in ("fitting-room-generator", "fitting-room-guide"):
        client.set_registered_model_alias(name, "champion", "1")


def fitting_room(project: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fitting_room", "--params", "params.yaml", *args],
        cwd=project["root"],
        env=project["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )


def bentos(project: dict) -> list[str]:
    bentoml = str(Path(sys.executable).with_name("bentoml"))
    done = subprocess.run(
        [bentoml, "list", "fitting-room", "-o", "json"], env=project["env"], capture_output=True, text=True
    )
    return sorted(b["tag"] for b in json.loads(done.stdout or "[]"))


@pytest.fixture(scope="module")
def packaged(project) -> dict:
    done = fitting_room(project, "package")
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((project["root"] / "models" / "bento" / "current.json").read_text())


def test_package_makes_a_smoke_checked_bento_current(project, packaged):
    assert packaged["smoke_check"]["passed"] is True
    assert bentos(project) == [packaged["bento"]]
    assert (project["root"] / "models" / "bento" / packaged["archive"]).stat().st_size > 0
    report = json.loads((project["root"] / "reports" / "serving" / "smoke_check.json").read_text())
    assert report["passed"] and not report["problems"]
    assert {"generate", "recommend", "fit", "try_on", "readyz"} <= set(report["calls"])


def lock_versions() -> dict[str, set[str]]:
    """The versions of each package in this checkout's uv.lock (some have one per Python version)."""
    import re
    import tomllib

    versions: dict[str, set[str]] = {}
    for package in tomllib.loads((ROOT / "uv.lock").read_text())["package"]:
        if "version" in package:
            versions.setdefault(re.sub(r"[-_.]+", "-", package["name"]).lower(), set()).add(
                package["version"]
            )
    return versions


def test_the_bento_installs_exactly_the_versions_of_uv_lock(project, packaged):
    import re

    name, version = packaged["bento"].split(":")
    bento = Path(project["env"]["BENTOML_HOME"]) / "bentos" / name / version
    lines = (bento / "env" / "python" / "requirements.txt").read_text().splitlines()
    pins = dict(re.match(r"^([A-Za-z0-9_.-]+)==([^ ;]+)", line).groups() for line in lines if "==" in line)
    pins = {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins.items()}
    locked = lock_versions()
    # the service's own imports, pinned, and nothing pinned that the lock does not say
    assert {"tensorflow", "keras", "bentoml", "lightgbm", "numpy", "pandas"} <= set(pins)
    assert {name: version for name, version in pins.items() if version not in locked.get(name, ())} == {}
    assert not [line for line in lines if line.strip() and not line.startswith("#") and "==" not in line]


def test_every_champion_is_imported_with_its_lineage_labels(packaged):
    models = {m["role"]: m for m in packaged["models"]}
    assert set(models) == {"generator", "guide"}
    for model in models.values():
        assert model["mlflow_version"] == "1"
        assert model["labels"]["mlflow_model"] == model["registered_name"]
        assert model["bentoml_tag"].startswith(model["registered_name"] + ":")
    assert models["generator"]["labels"]["git_commit"] == "abc123"  # from the champion's run
    assert models["generator"]["labels"]["data_version"] == "d1"


def test_a_failed_smoke_check_keeps_the_previous_bento_current(project, packaged):
    # a server that must be ready within 0.1 s cannot be: the smoke check fails for real
    done = fitting_room(project, "--set", "serving.smoke_check.startup_timeout_s=0.1", "package")
    assert done.returncode == 2
    assert "smoke check" in done.stderr and "previous bento stays current" in done.stderr
    current = json.loads((project["root"] / "models" / "bento" / "current.json").read_text())
    assert current["bento"] == packaged["bento"]
    assert bentos(project) == [packaged["bento"]]  # the failed bento was deleted


def test_a_smoke_profile_package_leaves_the_production_bento_current(project, packaged):
    # the smoke profile owns its registry names: the production champions are not its to ship
    current = project["root"] / "models" / "bento" / "current.json"
    before = current.read_text()
    done = fitting_room(project, "--profile", "smoke", "package")
    assert done.returncode == 2
    assert "'fitting-room-generator-smoke' has no 'champion' alias" in done.stderr
    assert current.read_text() == before and bentos(project) == [packaged["bento"]]
    assert not (current.parent / "current-smoke.json").exists()
    done = fitting_room(project, "--profile", "smoke", "serve")
    assert done.returncode == 2 and "profile 'smoke' has no current bento yet" in done.stderr


def test_package_without_a_champion_fails_naming_the_model(project, tmp_path):
    # an empty registry of its own: the shared project keeps its champions for the other tests
    (tmp_path / "params.yaml").write_text(PARAMS)
    env = {**project["env"], "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    done = fitting_room(
        {"root": tmp_path, "env": {**env, "BENTOML_HOME": str(tmp_path / "bentoml")}}, "package"
    )
    assert done.returncode == 2
    assert "'fitting-room-generator' has no 'champion' alias" in done.stderr
