"""Roll the served bundle back: a previous bento, and with it the champions of its models.

A bento pins the exact MLflow versions of the generator and the guide (its labels), so
rolling back "everything" means: check every version still exists, move each model's
``champion`` alias back (audited in the registry), then make that bento current again.
Every check runs before the first alias moves, so a bad target changes nothing. Each bento
move is recorded as an MLflow run (who, when, why, from, to) in the ops experiment; model
moves are recorded by :func:`fitting_room.tracking.promotion.rollback`.
"""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import Any

from fitting_room.config import Config
from fitting_room.errors import FittingRoomError
from fitting_room.ops.lineage import current_bento_doc
from fitting_room.tracking.roles import ROLES, current_file, registered_models

# what `fitting-room rollback` moves: one model's champion, the served bento, or all of them
ROLLBACK_TARGETS: tuple[str, ...] = (*ROLES, "bento", "all")


def bento_models(cfg: Config, bento_tag: str) -> list[Any]:
    """The :class:`ImportedModel` records of a stored bento, from the ``<role>_version`` labels
    the package stage gives every bento.

    Raises:
        FittingRoomError: naming the bento when it is not in the BentoML store or pins no versions.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    from fitting_room.serving.package import ImportedModel

    try:
        bento = bentoml.get(bento_tag)
    except NotFound:
        raise FittingRoomError(
            f"bento {bento_tag!r} is not in the BentoML store (`bentoml list` shows what is)"
        ) from None
    labels = dict(bento.info.labels)
    models = [
        ImportedModel(role, name, labels[f"{role}_version"], "", {"role": role, "mlflow_model": name})
        for role, name in registered_models(cfg.profile).items()
        if labels.get(f"{role}_version")
    ]
    if not models:
        raise FittingRoomError(
            f"bento {bento_tag!r} has no <role>_version labels: it was not built by `package`"
        )
    return models


def record_bento_move(
    cfg: Config, action: str, to_tag: str, from_tag: str | None, reason: str, root: str | Path = "."
) -> dict:
    """Write the audit record of a bento move as an MLflow run in the ops experiment."""
    import mlflow

    from fitting_room.tracking.mlflow_runs import configure_mlflow

    record = {
        "action": action,
        "at": time.time(),
        "by": _who(),
        "from_bento": from_tag or "",
        "to_bento": to_tag,
        "reason": reason[:2000],
    }
    configure_mlflow(cfg.tracking.model_copy(update={"experiment": cfg.ops.audit_experiment}), root)
    with mlflow.start_run(run_name=f"{action}-{to_tag}", tags={"stage": action, **_str(record)}):
        mlflow.log_dict(record, "audit.json")
    return record


def bento_history(cfg: Config) -> list[dict[str, Any]]:
    """Bento moves recorded by rollbacks, oldest first."""
    import mlflow

    runs = mlflow.search_runs(
        experiment_names=[cfg.ops.audit_experiment],
        filter_string="tags.stage = 'rollback_bento'",
        output_format="list",
    )
    keys = ("action", "at", "by", "from_bento", "to_bento", "reason")
    records = [{k: r.data.tags.get(k) for k in keys} for r in runs]
    return sorted(records, key=lambda r: float(r["at"] or 0))


def rollback_bento(cfg: Config, to_tag: str, reason: str, root: str | Path = ".") -> dict:
    """Make a previously built bento current again (archive + ``current.json``), audited.

    Raises:
        FittingRoomError: the bento is not in the store.
    """
    from fitting_room.serving.package import promote

    models = tuple(bento_models(cfg, to_tag))
    previous = current_bento_doc(cfg, root)
    out_dir = Path(root) / cfg.serving.out_dir
    promote(to_tag, models, {"rolled_back": True, "reason": reason}, out_dir, current_file(cfg.profile))
    return record_bento_move(cfg, "rollback_bento", to_tag, (previous or {}).get("bento"), reason, root)


def rollback_bundle(cfg: Config, client: Any, to_tag: str, reason: str, root: str | Path = ".") -> dict:
    """Roll back every model of the bundle to the versions ``to_tag`` pins, then the bento itself.

    Raises:
        FittingRoomError: before anything moves, when the bento or one of its versions is missing.
    """
    from mlflow.exceptions import MlflowException

    from fitting_room.tracking.promotion import rollback

    models = bento_models(cfg, to_tag)
    for m in models:
        try:
            client.get_model_version(m.registered_name, m.mlflow_version)
        except MlflowException:
            raise FittingRoomError(
                f"bento {to_tag}: {m.registered_name!r} version {m.mlflow_version!r} is no longer "
                "registered; nothing was rolled back"
            ) from None
    moved = {m.role: rollback(client, m.registered_name, m.mlflow_version, reason) for m in models}
    return {"models": moved, "bento": rollback_bento(cfg, to_tag, reason, root)}


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _str(record: dict) -> dict[str, str]:
    return {k: str(v) for k, v in record.items()}
