"""The ``package`` stage: champion models -> BentoML model store -> bento -> smoke check -> current.

1. Each served role's MLflow ``champion`` version is downloaded and imported into the BentoML
   model store, labelled with its lineage (MLflow name/version/run, git commit, DVC data
   version, params hash) -- ``GET /info`` returns these labels at serving time.
2. The bento is built from ``bentofile.yaml`` with the resolved ``serving`` params as bento
   arguments and the exact model tags pinned.
3. The smoke check serves the new bento on a free loopback port and calls every endpoint.
   Only when it passes does the bento become *current*: exported to ``models/bento/`` and
   named in ``models/bento/current.json``. A failed check deletes the new bento, so both
   ``current.json`` and the store's ``latest`` still point at the previous one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from fitting_room.config import Config, config_hash
from fitting_room.errors import FittingRoomError, GateFailed
from fitting_room.files import atomic_write, atomic_write_json
from fitting_room.serving.args import service_args
from fitting_room.tracking.roles import bento_name, current_file, registered_models

log = logging.getLogger(__name__)
LINEAGE_TAGS = ("git_commit", "data_version", "params_hash", "profile")


@dataclass(frozen=True)
class ImportedModel:
    role: str
    registered_name: str
    mlflow_version: str
    bentoml_tag: str
    labels: dict[str, str]


@dataclass(frozen=True)
class PackageResult:
    bento_tag: str
    archive: Path
    models: tuple[ImportedModel, ...]
    smoke: dict[str, Any]


def import_champion(client: Any, role: str, registered: str, fallback: dict) -> ImportedModel:
    """Copy the ``champion`` version of one registered model into the BentoML model store
    (under the same name).

    Raises:
        FittingRoomError: naming the registered model when it has no champion.
    """
    import bentoml
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(registered, "champion")
    except MlflowException:
        raise FittingRoomError(
            f"registered model {registered!r} has no 'champion' alias; run its training stage "
            "(its quality gate assigns the alias) before packaging"
        ) from None
    run_tags = client.get_run(version.run_id).data.tags if version.run_id else {}
    labels = {
        "role": role,
        "mlflow_model": registered,
        "mlflow_version": str(version.version),
        "mlflow_run_id": str(version.run_id or ""),
        **{key: str(run_tags.get(key) or fallback.get(key, "unknown")) for key in LINEAGE_TAGS},
    }
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{registered}@champion", dst_path=tmp
        )
        with bentoml.models.create(
            registered, labels=labels, metadata={"mlflow_source": str(version.source)}
        ) as model:
            shutil.copytree(local, model.path, dirs_exist_ok=True)
    return ImportedModel(role, registered, str(version.version), str(model.tag), labels)


def locked_requirements(lock_dir: Path) -> str:
    """The bento's Python packages: the ``serving`` group of ``uv.lock`` in ``lock_dir``, pinned.

    Raises:
        FittingRoomError: no ``uv.lock`` there, or ``uv export`` fails (e.g. the lock is stale).
    """
    if not (lock_dir / "uv.lock").is_file():
        raise FittingRoomError(
            f"no uv.lock beside the bentofile in {lock_dir}: the bento's packages come from it"
        )
    uv = Path(sys.executable).with_name("uv")
    cmd = [str(uv if uv.exists() else "uv"), "export", "--frozen", "--only-group", "serving", "--no-hashes",
           "--no-emit-project", "--no-header", "--no-annotate"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=lock_dir)
    if done.returncode != 0:
        raise FittingRoomError(
            f"`uv export` of the serving group in {lock_dir} failed:\n{done.stderr[-2000:]}"
        )
    return done.stdout


def locked_bentofile(bentofile: Path, work: Path) -> Path:
    """A copy of ``bentofile`` in ``work`` whose Python packages are the serving group of uv.lock, pinned."""
    try:
        spec = yaml.safe_load(bentofile.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise FittingRoomError(f"cannot read the bentofile {bentofile}: {err}") from err
    pins = [line.strip() for line in locked_requirements(bentofile.resolve().parent).splitlines()]
    spec["python"] = {
        **(spec.get("python") or {}),
        "packages": [pin for pin in pins if pin and pin[0] != "#"],
    }
    spec["python"]["lock_packages"] = False  # already pinned; keeps `bentoml build` offline
    out = work / "bentofile.yaml"
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def build_bento(cfg: Config, args: dict[str, Any], labels: dict[str, str], root: Path) -> str:
    """``bentoml build`` in a subprocess (the service module reads its arguments on import).

    Returns:
        The new bento's tag.
    """
    serving = cfg.serving
    work = Path(tempfile.mkdtemp(prefix="bento-build-"))
    try:
        done = _build(cfg, args, labels, root, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tags = [line.split("__tag__:", 1)[1].strip() for line in done.stdout.splitlines() if "__tag__:" in line]
    if done.returncode != 0 or not tags:
        raise FittingRoomError(f"bentoml build -f {serving.bentofile} failed:\n{done.stderr[-3000:]}")
    return tags[-1]


def _build(
    cfg: Config, args: dict[str, Any], labels: dict[str, str], root: Path, work: Path
) -> subprocess.CompletedProcess[str]:
    """Write the arguments and the locked bentofile into ``work`` and run ``bentoml build``."""
    serving = cfg.serving
    arg_file = work / "args.yaml"
    arg_file.write_text(yaml.safe_dump(args))
    bentofile = locked_bentofile(root / serving.bentofile, work)
    cmd: list[str] = [
        str(Path(sys.executable).with_name("bentoml")),
        "build",
        "-f",
        str(bentofile),
        "--name",
        bento_name(serving.bento_name, cfg.profile),
        "--arg-file",
        str(arg_file),
        "-o",
        "tag",
    ]
    for key, value in labels.items():
        cmd += ["--label", f"{key}={value}"]
    cmd.append(str(root / serving.build_ctx))
    env = {**os.environ, "BENTOML_DO_NOT_TRACK": "true"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)


def package(cfg: Config, root: str | Path = ".") -> PackageResult:
    """Run the package stage (see the module docstring).

    Raises:
        FittingRoomError: a model has no champion, or the build fails.
        GateFailed: the smoke check failed; the previous bento stays current.
    """
    import bentoml
    import mlflow

    from fitting_room.serving.smoke import smoke_check
    from fitting_room.tracking.mlflow_runs import lineage_tags, log_flat_params, stage_run

    root = Path(root).resolve()
    serving = cfg.serving
    with stage_run(cfg, "package", root) as run:
        log_flat_params(cfg.as_dict()["serving"], "serving")
        client = mlflow.MlflowClient()
        fallback = lineage_tags(cfg, root)
        names = registered_models(cfg.profile)
        log.info("1/3 importing the champions of %s into the BentoML store", ", ".join(names.values()))
        models = tuple(import_champion(client, role, name, fallback) for role, name in names.items())
        args = service_args(serving, {m.role: m.bentoml_tag for m in models})
        labels = {
            "git_commit": fallback["git_commit"],
            "data_version": fallback["data_version"],
            "params_hash": config_hash(cfg),
            "profile": cfg.profile,
            "mlflow_run_id": run.info.run_id,
            **{f"{m.role}_version": m.mlflow_version for m in models},
        }
        log.info("2/3 building the bento (bentoml build -f %s)", serving.bentofile)
        bento_tag = build_bento(cfg, args, labels, root)
        mlflow.set_tag("bento", bento_tag)
        log.info("3/3 smoke check: serving %s on a free loopback port and calling every endpoint", bento_tag)
        reports = root / serving.reports_dir
        reports.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            smoke = smoke_check(bento_tag, serving, Path(tmp) / "serve.log")
        atomic_write_json(reports / "smoke_check.json", smoke)
        mlflow.log_metrics({k: v for k, v in smoke.items() if isinstance(v, int | float)})
        mlflow.log_artifact(str(reports / "smoke_check.json"), artifact_path="serving")
        if not smoke["passed"]:
            bentoml.delete(bento_tag)
            raise GateFailed(
                f"smoke check of {bento_tag} failed; the previous bento stays current:\n"
                + "\n".join(f"  - {p}" for p in smoke["problems"])
            )
        current = current_file(cfg.profile)
        archive = promote(bento_tag, models, smoke, root / serving.out_dir, current)
        mlflow.log_artifact(str(root / serving.out_dir / current), artifact_path="serving")
    return PackageResult(bento_tag, archive, models, smoke)


def promote(
    bento_tag: str,
    models: tuple[ImportedModel, ...],
    smoke: dict,
    out_dir: Path,
    current: str = current_file(),
) -> Path:
    """Make a smoke-checked bento current: export its archive, then name it in ``current``
    (``current.json``, or ``current-<profile>.json`` for a non-default profile)."""
    import bentoml

    # absolute: BentoML's exporter reads a relative path from the filesystem root, not the cwd
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    name = bento_tag.split(":", 1)[0]
    # the temporary name ends in .bento, so BentoML writes that format and appends nothing
    archive = atomic_write(
        out_dir / f"{name}.bento", lambda tmp: bentoml.export_bento(bento_tag, str(tmp)), suffix=".bento"
    )
    doc = {
        "bento": bento_tag,
        "archive": archive.name,
        "models": [asdict(m) for m in models],
        "smoke_check": {k: v for k, v in smoke.items() if k != "calls"},
    }
    atomic_write_json(out_dir / current, doc)
    return archive


def current_bento(cfg: Config, root: str | Path = ".") -> str:
    """The tag of the current (smoke-checked) bento.

    Raises:
        FittingRoomError: when nothing was packaged yet.
    """
    path = Path(root) / cfg.serving.out_dir / current_file(cfg.profile)
    if not path.exists():
        option = "" if cfg.profile == "default" else f" --profile {cfg.profile}"
        raise FittingRoomError(
            f"{path} not found: profile {cfg.profile!r} has no current bento yet; "
            f"run `fitting-room{option} package` first"
        )
    return str(json.loads(path.read_text())["bento"])
