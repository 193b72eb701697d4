"""A throwaway copy of the project in its own git repo, for real DVC + Prefect runs."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FMNIST = Path("/usr/share/datasets/fashion-mnist")
BODY_TYPES = ["hourglass", "straight & narrow", "pear", "athletic", "full bust", "petite", "apple"]
OCCASIONS = ["party", "wedding", "work", "formal affair", "everyday", "vacation", "date", "other"]
CATEGORIES = ["dress", "gown", "sheath", "jumpsuit", "top", "romper"]


def _write_rtr_lines(path: Path, n: int, seed: int = 0, **overrides_by_row: dict) -> Path:
    """A RentTheRunway-format JSON-lines file with plausible raw strings (``5' 8"``, ``137lbs``)."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        feet, inches = divmod(rng.randint(59, 72), 12)
        row = {
            "fit": rng.choice(["fit", "fit", "fit", "small", "large"]),
            "user_id": str(1000 + rng.randint(0, n // 3)),
            "bust size": f"{rng.choice([32, 34, 36, 38])}{rng.choice('abcd')}",
            "item_id": str(50000 + rng.randint(0, 40)),
            "weight": f"{rng.randint(105, 190)}lbs",
            "rating": str(rng.choice([8, 10])),
            "rented for": rng.choice(OCCASIONS),
            "body type": rng.choice(BODY_TYPES),
            "category": rng.choice(CATEGORIES),
            "height": f"{feet}' {inches}\"",
            "size": rng.choice([4, 8, 12, 16, 20]),
            "age": str(rng.randint(20, 60)),
            "review_date": f"April {rng.randint(1, 28)}, 20{rng.randint(14, 17)}",
        }
        row.update(overrides_by_row.get(str(i), {}))
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project's pipeline files in a fresh git repo, with tiny shopper data of its own.

    Module-scoped: stage subprocesses cost seconds each, so the tests of a module share one
    project (and one MLflow store) and its DVC cache. A state a test needs comes from a
    fixture (a first run), never from an earlier test.
    """
    if not (FMNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian dataset-fashion-mnist not installed (make test installs it)")
    tmp_path = tmp_path_factory.mktemp("pipeline")
    proj = tmp_path / "project"
    proj.mkdir()
    # pyproject.toml + uv.lock: the package stage pins the bento's packages from the lock
    for name in ("dvc.yaml", "params.yaml", ".dvcignore", "bentofile.yaml", "pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, proj / name)
    shutil.copytree(
        ROOT / ".dvc", proj / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp", "config.local")
    )
    shutil.copytree(ROOT / "src", proj / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (proj / ".gitignore").write_text("/build/\n/mlruns/\n")
    _write_rtr_lines(proj / "rtr.json", 400)
    for cmd in (
        ["git", "init", "-q"],
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A"],
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init"],
    ):
        subprocess.run(cmd, cwd=proj, check=True)
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


@pytest.fixture(scope="session")
def write_rtr_lines():
    """Builder of RentTheRunway-format JSON lines: ``write_rtr_lines(path, n, seed, **{row: fields})``."""
    return _write_rtr_lines
