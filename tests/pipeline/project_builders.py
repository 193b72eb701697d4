"""A throwaway copy of the project in its own git repo, its Prefect deployments and their runs.

Shared by the pipeline tier (embedded stores, a bare Prefect server) and the ops tier (the
``fitting-room stack`` servers): the copy has the working tree's pipeline files and code, tiny
shopper data of its own and Fashion-MNIST from the Debian package, so a test never reads or
writes the checkout's ``data/``, ``models/`` or stores.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest

ROOT = Path(__file__).resolve().parents[2]
FMNIST = Path("/usr/share/datasets/fashion-mnist")
TRAINING = "training-pipeline/scheduled-retrain"
GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
BODY_TYPES = ["hourglass", "straight & narrow", "pear", "athletic", "full bust", "petite", "apple"]
OCCASIONS = ["party", "wedding", "work", "formal affair", "everyday", "vacation", "date", "other"]
CATEGORIES = ["dress", "gown", "sheath", "jumpsuit", "top", "romper"]


def write_rtr_lines(path: Path, n: int, seed: int = 0, **overrides_by_row: dict) -> Path:
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


def copy_project(proj: Path) -> Path:
    """The working tree's pipeline files, code and flows in ``proj``, committed to a fresh git repo,
    with 400 shopper rows of its own in ``rtr.json`` (not part of the repo's DVC data).

    Skips the calling test when the Debian Fashion-MNIST package is missing.
    """
    if not (FMNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian dataset-fashion-mnist not installed (make test installs it)")
    proj.mkdir(parents=True)
    # pyproject.toml + uv.lock: the package stage pins the bento's packages from the lock
    for name in ("dvc.yaml", "params.yaml", ".dvcignore", "bentofile.yaml", "pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, proj / name)
    shutil.copytree(
        ROOT / ".dvc", proj / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp", "config.local")
    )
    for folder in ("src", "flows"):  # flows: what the deployments run, from this copy
        shutil.copytree(ROOT / folder, proj / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (proj / ".gitignore").write_text("/build/\n/mlruns/\n")
    write_rtr_lines(proj / "rtr.json", 400)
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    commit(proj, "init", ".")
    return proj


def commit(proj: Path, message: str, *paths: str) -> None:
    """``git add`` ``paths`` and commit them in ``proj``."""
    subprocess.run([*GIT, "add", "--", *paths], cwd=proj, check=True)
    subprocess.run([*GIT, "commit", "-qm", message], cwd=proj, check=True)


def register_deployments(proj: Path, training_parameters: dict | None = None) -> dict[str, str]:
    """The deployments of ``flows/deploy.py`` for ``proj`` on the smoke profile, on the server the
    caller's Prefect settings name; schedules paused so no cron fires mid-test.

    Args:
        training_parameters: replace the training deployment's parameters (e.g. add ``until``).

    Returns:
        Deployment full name -> id, and ``pool``: the work pool they run on.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate

    from fitting_room.config import load_config

    schedule = load_config(proj / "params.yaml", "smoke").ops.schedule
    # paused: the hourly drift cron must not fire in the middle of a test
    schedule = schedule.model_copy(update={"profile": "smoke", "paused": True})
    saved_path = list(sys.path)
    sys.path.insert(0, str(ROOT))
    try:
        from flows.deploy import deploy_all

        ids = deploy_all(schedule, root=proj)
    finally:
        sys.path[:] = saved_path  # loading the flows prepends the project's folders too
    if training_parameters is not None:
        with get_client(sync_client=True) as client:
            client.update_deployment(UUID(ids[TRAINING]), DeploymentUpdate(parameters=training_parameters))
    return {**ids, "pool": schedule.work_pool}


def trigger(name: str, **parameters):
    """Start a run of deployment ``name`` now; returns the flow run without waiting for it."""
    from prefect.deployments import run_deployment

    return run_deployment(name, parameters=parameters or None, timeout=0, as_subflow=False)


def tail(path: Path, n: int = 60) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(lines[-n:])


def wait_final(
    flow_run_id,
    worker_alive: Callable[[], bool],
    worker_log: Path,
    timeout_s: float,
    poll_s: float = 0.5,
):
    """The flow run once its state is final; fails with the worker's log when the worker dies
    or ``timeout_s`` passes."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            assert worker_alive(), f"the worker died:\n{tail(worker_log)}"
            assert time.monotonic() < deadline, (
                f"flow run {flow_run_id}: {run.state_name} after {timeout_s:.0f} s:\n{tail(worker_log)}"
            )
            time.sleep(poll_s)
