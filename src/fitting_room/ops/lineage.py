"""Lineage of what is served now: model version, runs, commit, data, params, validation, flow run.

Everything here is read back from the stores that recorded it (``models/bento/current.json``,
the MLflow registry and runs); nothing is inferred from the working tree, so the answer
describes the served artifact even after the code or data moved on.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml

from fitting_room.config import Config
from fitting_room.errors import FittingRoomError
from fitting_room.tracking.promotion import alias_history, champion_version
from fitting_room.tracking.roles import ROLES, current_file, registered_name
from fitting_room.tracking.uris import without_password

RUN_TAGS = ("git_commit", "data_version", "params_hash", "profile", "prefect_flow_run_id", "stage")


def current_bento_doc(cfg: Config, root: str | Path = ".") -> dict[str, Any] | None:
    """The parsed ``current.json`` of the profile's served bento, or None when nothing was packaged."""
    path = Path(root) / cfg.serving.out_dir / current_file(cfg.profile)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def served_versions(doc: dict[str, Any] | None) -> dict[str, str]:
    """Role -> MLflow version pinned in the current bento (empty without one)."""
    if not doc:
        return {}
    return {m["role"]: str(m["mlflow_version"]) for m in doc.get("models", [])}


def resolved_params(client: Any, run_id: str) -> dict[str, Any] | None:
    """The ``config/params.resolved.yaml`` every stage run logs, parsed (None when absent)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="config/params.resolved.yaml", dst_path=tmp
            )
        except (MlflowException, OSError):
            return None
        return yaml.safe_load(Path(local).read_text())


def validation_results(client: Any, run: Any) -> dict[str, dict[str, Any]]:
    """GX validation runs of the data this run trained on: siblings in the same pipeline run,
    else the latest validation runs that saw the same data version."""
    tags = run.data.tags
    parent = tags.get("mlflow.parentRunId")
    if parent:
        where = f"tags.`mlflow.parentRunId` = '{parent}'"
    elif tags.get("data_version"):
        where = f"tags.data_version = '{tags['data_version']}'"
    else:
        return {}
    found: dict[str, dict[str, Any]] = {}
    runs = client.search_runs(
        [run.info.experiment_id],
        filter_string=where,
        order_by=["attributes.start_time DESC"],
        max_results=200,
    )
    for other in runs:
        stage = other.data.tags.get("stage", "")
        if stage.startswith("validate_") and stage not in found:
            found[stage] = {
                "run_id": other.info.run_id,
                "success": other.data.tags.get("validation_success"),
                "metrics": {k: v for k, v in other.data.metrics.items() if k.startswith("validation_")},
            }
    return found


def model_lineage(client: Any, name: str, version: str | None = None) -> dict[str, Any]:
    """Lineage of one registered model version (default: the ``champion``).

    Raises:
        FittingRoomError: naming the model when it is not registered or has no such version.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version(name, version) if version else champion_version(client, name)
    except MlflowException:
        mv = None
    if mv is None:
        what = f"version {version}" if version else "'champion' alias"
        raise FittingRoomError(f"registered model {name!r} has no {what}; nothing to trace")
    champion = champion_version(client, name)
    out: dict[str, Any] = {
        "registry": without_password(getattr(client, "_registry_uri", None) or mlflow.get_registry_uri()),
        "model": name,
        "version": str(mv.version),
        "aliases": list(mv.aliases or []),
        "champion_version": champion.version if champion is not None else None,
        "source": mv.source,
        "gate_passed": (mv.tags or {}).get("gate.passed"),
        "alias_history": alias_history(client, name),
        "run_id": mv.run_id,
    }
    if not mv.run_id:
        return out
    run = client.get_run(mv.run_id)
    tags = run.data.tags
    out["run"] = {
        "experiment_id": run.info.experiment_id,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "parent_run_id": tags.get("mlflow.parentRunId"),
        **{k: tags.get(k) for k in RUN_TAGS},
    }
    out["dvc_data_hashes"] = json.loads(tags.get("dvc_data_hashes") or "{}")
    out["dvc_remote"] = pushed_to(client, tags.get("mlflow.parentRunId"))
    out["params"] = resolved_params(client, mv.run_id)
    out["validation"] = validation_results(client, run)
    return out


def pushed_to(client: Any, parent_run_id: str | None) -> str | None:
    """The DVC remote (URL) the pipeline run pushed its data versions to; None when it pushed
    nowhere, or ran without a pipeline parent run (a stage run by hand)."""
    if not parent_run_id:
        return None
    tags = client.get_run(parent_run_id).data.tags
    return tags.get("dvc_remote_url") or None


def served_lineage(cfg: Config, client: Any, what: str, root: str | Path = ".") -> dict[str, Any]:
    """Lineage of ``what`` (a role or ``bento``) as served now.

    A role resolves to the version pinned in the current bento, or to the champion when
    nothing has been packaged yet.
    """
    doc = current_bento_doc(cfg, root)
    if what == "bento":
        if doc is None:
            raise FittingRoomError(
                f"{Path(root) / cfg.serving.out_dir / 'current.json'} not found: no bento is current "
                "(run `fitting-room package`)"
            )
        versions = served_versions(doc)
        return {
            "bento": doc.get("bento"),
            "archive": doc.get("archive"),
            "smoke_check": doc.get("smoke_check"),
            "models": {
                role: model_lineage(client, registered_name(role, cfg.profile), versions.get(role))
                for role in ROLES
                if role in versions
            },
        }
    if what not in ROLES:
        raise FittingRoomError(f"lineage: unknown model {what!r} (choose {', '.join([*ROLES, 'bento'])})")
    version = served_versions(doc).get(what)
    out = model_lineage(client, registered_name(what, cfg.profile), version)
    out["served_from"] = (doc or {}).get("bento") if version else "champion alias (no bento packaged yet)"
    return out


def format_lineage(doc: dict[str, Any], indent: int = 0) -> str:
    """A readable, stable text rendering of a lineage document (``--json`` prints the raw one)."""
    pad = "  " * indent
    lines: list[str] = []
    for key, value in doc.items():
        if key == "params" and isinstance(value, dict):
            lines.append(f"{pad}params: {len(value)} sections (resolved; --json shows them)")
        elif isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:")
            lines.append(format_lineage(value, indent + 1))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{pad}{key}:")
            lines.extend(f"{pad}  - {json.dumps(item, sort_keys=True, default=str)}" for item in value)
        else:
            lines.append(f"{pad}{key}: {value}")
    return "\n".join(lines)
