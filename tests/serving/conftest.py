"""One real ``bentoml serve`` for the serving tier: tiny real models, a private store, loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fitting_room.serving.server import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "fitting_room.serving.service:FittingRoom"
LIMITS = {
    "max_images": 8,
    "max_k": 12,
    "max_sizes": 6,
    "max_history": 5,
    "max_request_bytes": 4096,
    # the tiny test guide's P(small) tops out near 0.4: a lower threshold lets /try-on mark sizes
    "tryon_mark_threshold": 0.3,
}


@pytest.fixture(scope="session")
def bentoml_home(tmp_path_factory) -> Path:
    """A private BentoML store holding the served models (built in a subprocess, see builders)."""
    home = tmp_path_factory.mktemp("bentoml")
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("builders.py")), str(home)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (home / "tags.json").write_text(done.stdout.strip().splitlines()[-1])
    return home


@pytest.fixture(scope="session")
def server(bentoml_home, tmp_path_factory):
    """The service from source on a free loopback port; always stopped at the end."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    running = start_server(
        SERVICE,
        log,
        args=LIMITS,
        env={"BENTOML_HOME": str(bentoml_home), "TF_CPP_MIN_LOG_LEVEL": "2"},
        working_dir=str(ROOT / "src"),
        startup_timeout_s=240,
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def model_tags(bentoml_home) -> dict[str, str]:
    return json.loads((bentoml_home / "tags.json").read_text())
