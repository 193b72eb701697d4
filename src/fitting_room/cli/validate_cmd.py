"""``fitting-room validate images|shoppers``: the data validation gates, each in its own MLflow run.

The JSON summary, Data Docs, success flag and headline counts are logged even when the gate
fails — a failed validation is exactly the run someone will want to inspect — and then the
command exits non-zero with the list of failed expectations.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fitting_room.cli.main import app, fail, state

validate_app = typer.Typer(
    help="Validate ingested data with Great Expectations; failing data stops the pipeline.",
    no_args_is_help=True,
)
app.add_typer(validate_app, name="validate")


@validate_app.command("images")
def validate_images_command(ctx: typer.Context) -> None:
    """data/images/{train,test}.npz -> reports/validation/images.json + Data Docs."""
    from fitting_room.validation.images import validate_images

    cfg = state(ctx).cfg
    _run_gate(ctx, "images", lambda: validate_images(cfg.data.images.out_dir, cfg.validation))


@validate_app.command("shoppers")
def validate_shoppers_command(ctx: typer.Context) -> None:
    """data/shoppers/transactions.parquet -> validated.parquet + reports/validation/shoppers.json."""
    from fitting_room.validation.shoppers import validate_shoppers

    cfg = state(ctx).cfg
    _run_gate(ctx, "shoppers", lambda: validate_shoppers(cfg.data.shoppers.out_dir, cfg.validation))


def _run_gate(ctx: typer.Context, stage: str, validate) -> None:
    from fitting_room.errors import ValidationFailed
    from fitting_room.tracking.mlflow_runs import stage_run
    from fitting_room.validation.report import docs_dir, report_path

    cfg = state(ctx).cfg
    path = report_path(cfg.validation.reports_dir, stage)
    try:
        with stage_run(cfg, f"validate_{stage}"):
            try:
                validate()
            finally:
                # logged inside the run; the exception then marks the MLflow run FAILED
                _log_report(stage, path, docs_dir(cfg.validation.reports_dir, stage))
    except ValidationFailed as err:
        fail(str(err))
    summary = json.loads(path.read_text())
    typer.echo(json.dumps({"stage": stage, "success": summary["success"], **summary["counts"]}))


def _log_report(stage: str, path: Path, docs: Path) -> None:
    """Log the JSON summary, Data Docs, success and counts of this run (when it got that far)."""
    import mlflow

    if not path.is_file():  # the inputs could not be read; the error says why
        return
    summary = json.loads(path.read_text())
    mlflow.set_tag("validation_success", str(summary["success"]).lower())
    metrics = {"validation_success": float(summary["success"])}
    metrics |= {f"validation_{k}": float(v) for k, v in summary["counts"].items()}
    mlflow.log_metrics(metrics)
    mlflow.log_artifact(str(path), artifact_path=f"validate_{stage}")
    if docs.is_dir():
        mlflow.log_artifacts(str(docs), artifact_path=f"validate_{stage}/data_docs")
