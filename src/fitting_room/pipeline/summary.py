"""Where to look after a pipeline run: the MLflow run, the Data Docs, the bento and how to serve it.

The flow prints these lines at the end of ``make run`` so a user goes from "it finished" to
the evidence without knowing the project's layout.
"""

from __future__ import annotations

import json
from pathlib import Path

from fitting_room.config import Config
from fitting_room.tracking.roles import current_file
from fitting_room.tracking.uris import without_password
from fitting_room.validation.report import docs_dir

UI_URL = "http://127.0.0.1:5000"  # where `make ui` serves the MLflow UI


def mlflow_run_link(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """A link to the run in the MLflow UI; for a local store, the ``make ui`` command that serves it.

    Args:
        tracking_uri: the store the run went to.
        experiment_id: the run's experiment.
        run_id: the run.
    """
    page = f"#/experiments/{experiment_id}/runs/{run_id}"
    if tracking_uri.startswith(("http://", "https://")):
        return f"{without_password(tracking_uri).rstrip('/')}/{page}"
    return f"{UI_URL}/{page} (after `make ui`)"


def where_to_look(cfg: Config, root: str | Path, mlflow_link: str | None) -> list[str]:
    """The lines printed at the end of a run; a missing output (a run that stopped early) is left out.

    Args:
        cfg: the run's resolved config.
        root: project root.
        mlflow_link: the parent run's link (see :func:`mlflow_run_link`), None when untracked.
    """
    root = Path(root)
    lines = [f"MLflow run: {mlflow_link}"] if mlflow_link else []
    for stage in ("images", "shoppers"):
        index = docs_dir(root / cfg.validation.reports_dir, stage) / "index.html"
        if index.exists():
            lines.append(f"Data Docs ({stage}): {index.relative_to(root)}")
    # read here rather than through serving.package, which imports BentoML (seconds)
    current = root / cfg.serving.out_dir / current_file(cfg.profile)
    if current.exists():
        tag = json.loads(current.read_text())["bento"]
        profile = "" if cfg.profile == "default" else f" --profile {cfg.profile}"
        lines.append(f"bento: {tag}; serve it with `.venv/bin/fitting-room{profile} serve`")
    return lines
