"""Registered models load outside this checkout: in a fresh virtual environment made only from
the model's own ``requirements.txt``, and behind ``mlflow models serve --env-manager uv``.

The environments are real (``uv venv`` + ``uv pip install``; uv's cache makes that seconds),
``fitting_room`` is not installed in them, and the answers must equal this process's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

UV = str(Path(sys.executable).with_name("uv"))
ADVICE = {"user_id": ["u1", "stranger"], "item_id": ["i3", "i7"], "size": [8.0, 12.0]}


def _builders():
    path = Path(__file__).resolve().parents[1] / "serving" / "builders.py"
    spec = importlib.util.spec_from_file_location("serving_builders", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> dict:
    """A SQLite registry whose champions are a tiny generator and guide, logged as the stages do."""
    import mlflow

    from fitting_room.gan.mlflow_model import log_generator_model
    from fitting_room.recommender.mlflow_models import log_guide_model

    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    builders = _builders()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # ./mlruns artifacts land in tmp; no uv project here either
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("models")
        with mlflow.start_run():
            generator = log_generator_model(builders.save_tiny_generator(root / "work"))
            guide = log_guide_model(builders.build_guide(root / "work" / "guide"))
        client = mlflow.MlflowClient()
        for name, info in (("fitting-room-generator", generator), ("fitting-room-guide", guide)):
            version = mlflow.register_model(info.model_uri, name).version
            client.set_registered_model_alias(name, "champion", version)
        import pandas as pd

        expected = {
            "generator": mlflow.pyfunc.load_model("models:/fitting-room-generator@champion")
            .predict(pd.DataFrame({"category": ["0", "2"], "seed": [1, 2]}))
            .tolist(),
            "guide": mlflow.pyfunc.load_model("models:/fitting-room-guide@champion")
            .predict(pd.DataFrame(ADVICE))
            .to_dict(orient="list"),
        }
    mlflow.set_tracking_uri(None)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(MLFLOW_TRACKING_URI=uri, MLFLOW_ENV_ROOT=str(root / "envs"), TF_CPP_MIN_LOG_LEVEL="3")
    env["PATH"] = f"{Path(UV).parent}{os.pathsep}{env.get('PATH', '')}"  # mlflow's uv env manager
    return {"root": root, "env": env, "expected": expected}


def _requirements(registry: dict, name: str) -> Path:
    import mlflow

    mlflow.set_tracking_uri(registry["env"]["MLFLOW_TRACKING_URI"])
    try:
        local = mlflow.artifacts.download_artifacts(
            f"models:/{name}@champion/requirements.txt", dst_path=str(registry["root"] / name)
        )
    finally:
        mlflow.set_tracking_uri(None)
    return Path(local)


def _fresh_venv(registry: dict, name: str) -> Path:
    requirements = _requirements(registry, name)
    assert "fitting" not in requirements.read_text()  # the package travels as code, not as a dependency
    venv = registry["root"] / f"venv-{name}"
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([UV, "venv", "-q", str(venv), "--python", py], check=True, env=registry["env"])
    python = venv / "bin" / "python"
    subprocess.run(
        [UV, "pip", "install", "-q", "--python", str(python), "-r", str(requirements)],
        check=True,
        env=registry["env"],
        timeout=600,
    )
    return python


LOAD = """
import importlib.util, json, sys
import mlflow, pandas as pd
assert importlib.util.find_spec("fitting_room") is None, "fitting_room is installed here"
model = mlflow.pyfunc.load_model(sys.argv[1])
if sys.argv[1].startswith("models:/fitting-room-generator"):
    out = model.predict(pd.DataFrame({"category": ["0", "2"], "seed": [1, 2]})).tolist()
else:
    out = model.predict(pd.DataFrame(json.loads(sys.argv[2]))).to_dict(orient="list")
print("RESULT" + json.dumps(out))
"""


@pytest.mark.parametrize("role", ["generator", "guide"])
def test_the_champion_loads_in_a_fresh_venv_made_only_from_its_requirements(registry, role):
    python = _fresh_venv(registry, f"fitting-room-{role}")
    done = subprocess.run(
        [str(python), "-c", LOAD, f"models:/fitting-room-{role}@champion", json.dumps(ADVICE)],
        cwd=registry["root"],  # not the checkout: nothing of src/ on sys.path
        env=registry["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    got, expected = json.loads(line[len("RESULT") :]), registry["expected"][role]
    if role == "generator":  # uint8 images: the same pixels, up to one level of float round-off
        assert np.abs(np.asarray(got) - np.asarray(expected)).max() <= 1
    else:
        assert got["advised_size"] == expected["advised_size"]
        for column in ("p_small", "p_fit", "p_large"):
            assert got[column] == pytest.approx(expected[column], abs=1e-9)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlflow_models_serve_with_the_uv_env_manager_answers_invocations(registry):
    port = _free_port()
    mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
    log = (registry["root"] / "serve.log").open("w")
    server = subprocess.Popen(
        [mlflow_cli, "models", "serve", "-m", "models:/fitting-room-guide@champion"]
        + ["--env-manager", "uv", "-h", "127.0.0.1", "-p", str(port)],
        cwd=registry["root"],
        env=registry["env"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, (registry["root"] / "serve.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "mlflow models serve never became ready"
                time.sleep(1)
        body = json.dumps(
            {"dataframe_split": {"columns": list(ADVICE), "data": list(zip(*ADVICE.values(), strict=True))}}
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())["predictions"]
        expected = registry["expected"]["guide"]
        assert [row["advised_size"] for row in answer] == expected["advised_size"]
        assert [row["p_fit"] for row in answer] == pytest.approx(expected["p_fit"], abs=1e-9)
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
        log.close()
