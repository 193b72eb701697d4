"""MLflow at the edges: where runs go, and one nested run per pipeline stage.

The embedded default is a SQLite database plus a local artifact folder inside the project;
``MLFLOW_TRACKING_URI`` (or ``tracking.uri``) switches to a server without code changes.
A pipeline run is one parent run; each stage, even when DVC runs it in a subprocess, finds
its parent through ``FITTING_ROOM_PARENT_RUN_ID`` and opens a nested run under it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fitting_room.config import Config, config_hash, dump_resolved
from fitting_room.config.schema import TrackingConfig
from fitting_room.environ import scoped_environ
from fitting_room.tracking.lineage import data_version, dvc_data_hashes, git_commit

log = logging.getLogger(__name__)
PARENT_RUN_ENV = "FITTING_ROOM_PARENT_RUN_ID"
FLOW_RUN_ENV = "FITTING_ROOM_FLOW_RUN_ID"


def tracking_uri(cfg: TrackingConfig, root: str | Path = ".") -> str:
    """The URI runs go to: env var, then params, then the embedded SQLite file."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.uri
    if uri:
        return uri
    db = (Path(root) / cfg.db_path).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def configure_mlflow(cfg: TrackingConfig, root: str | Path = ".") -> str:
    """Point MLflow's tracking and registry at the configured store; return the experiment id."""
    import mlflow

    uri = tracking_uri(cfg, root)
    # the registry follows the tracking store unless MLFLOW_REGISTRY_URI names another one
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(cfg.experiment)
    if experiment is not None:
        exp_id = experiment.experiment_id
    else:
        location = None
        if uri.startswith("sqlite:"):
            # a server decides artifact locations itself; the embedded store keeps them local
            location = (Path(root) / cfg.artifact_root).resolve().as_uri()
        exp_id = mlflow.create_experiment(cfg.experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def warm_tracking(cfg: TrackingConfig, root: str | Path = ".") -> threading.Thread:
    """Import MLflow and open its store in a background thread; ``join()`` it before using MLflow.

    Importing MLflow and opening the SQLite store (schema check) take seconds, most of an
    unchanged scheduled run: started first, they overlap the ``configure`` subprocess and
    the DVC status call. MLflow caches the store per URI, so the later ``configure_mlflow``
    finds it ready. A failure here is ignored: the same call in the caller's thread raises it.
    """

    def warm() -> None:
        with contextlib.suppress(Exception):
            configure_mlflow(cfg, root)

    thread = threading.Thread(target=warm, name="mlflow-warm-up", daemon=True)
    thread.start()
    return thread


def lineage_tags(cfg: Config, root: str | Path = ".") -> dict[str, str]:
    """Tags every run carries: git commit, DVC data hashes, params hash, profile, flow run."""
    hashes = dvc_data_hashes(root)
    tags = {
        "git_commit": git_commit(root),
        "params_hash": config_hash(cfg),
        "profile": cfg.profile,
        "data_version": data_version(hashes),
        "dvc_data_hashes": json.dumps(hashes, sort_keys=True)[:5000],
    }
    flow_run = os.environ.get(FLOW_RUN_ENV)
    if flow_run:
        tags["prefect_flow_run_id"] = flow_run
    return tags


@contextlib.contextmanager
def stage_run(cfg: Config, stage: str, root: str | Path = ".") -> Iterator[Any]:
    """Open the MLflow run of one stage, nested under the pipeline run when there is one.

    The resolved config is logged as ``config/params.resolved.yaml`` and as flattened params.
    """
    import mlflow

    configure_mlflow(cfg.tracking, root)
    parent = os.environ.get(PARENT_RUN_ENV)
    tags = {**lineage_tags(cfg, root), "stage": stage}
    kwargs: dict[str, Any] = {"run_name": stage, "tags": tags}
    if parent:
        kwargs.update(nested=True, parent_run_id=parent)
    with mlflow.start_run(**kwargs) as run:
        with tempfile.TemporaryDirectory() as tmp:
            resolved = dump_resolved(cfg, Path(tmp) / "params.resolved.yaml")
            mlflow.log_artifact(str(resolved), artifact_path="config")
        yield run


def log_flat_params(section: dict[str, Any], prefix: str = "") -> None:
    """Log a nested dict as ``a.b.c`` params (MLflow caps value length at 6000 chars)."""
    import mlflow

    flat: dict[str, str] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{key}.{k}" if key else str(k))
        else:
            flat[key] = str(node)[:6000]

    walk(section, prefix)
    items = list(flat.items())
    for i in range(0, len(items), 100):
        mlflow.log_params(dict(items[i : i + 100]))


@contextlib.contextmanager
def pipeline_run(cfg: Config, root: str | Path = ".", flow_run_id: str | None = None) -> Iterator[Any]:
    """The parent MLflow run of one pipeline run; stage subprocesses nest under it via env vars.

    Lineage tags are written at the start and refreshed at the end, when ``dvc.lock``
    holds the hashes of what this run produced.
    """
    import mlflow

    configure_mlflow(cfg.tracking, root)
    flow = {FLOW_RUN_ENV: flow_run_id} if flow_run_id else {}
    with scoped_environ(flow, restore=(PARENT_RUN_ENV, FLOW_RUN_ENV)):
        tags = {**lineage_tags(cfg, root), "stage": "pipeline"}
        run = mlflow.start_run(run_name=f"pipeline-{cfg.profile}", tags=tags)
        try:
            os.environ[PARENT_RUN_ENV] = run.info.run_id
            with tempfile.TemporaryDirectory() as tmp:
                resolved = dump_resolved(cfg, Path(tmp) / "params.resolved.yaml")
                mlflow.log_artifact(str(resolved), artifact_path="config")
            yield run
            mlflow.set_tags(lineage_tags(cfg, root))
        except BaseException as err:
            _end_failed_run(run.info.run_id, "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED")
            raise
        mlflow.end_run()


def _end_failed_run(run_id: str, status: str) -> None:
    """Mark the parent run ended; when the server is what failed, say so and keep the first error.

    ``mlflow.start_run``'s own ``__exit__`` would raise its failed call in place of the error
    that ended the run, which a user needs to see.
    """
    import mlflow

    try:
        mlflow.end_run(status)
    except Exception as err:  # the server that failed the stage fails this call too
        log.warning("could not mark MLflow run %s %s: %s", run_id, status, str(err)[:300])
