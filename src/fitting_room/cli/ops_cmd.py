"""``fitting-room lineage``, ``drift`` and ``rollback bento|all``: operations commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fitting_room.cli.main import app, rollback_app, state


@app.command("lineage")
def lineage_command(
    ctx: typer.Context,
    what: Annotated[str, typer.Argument(help="generator | advisor | recommender | bento")] = "bento",
    as_json: Annotated[bool, typer.Option("--json", help="print the full JSON document")] = False,
) -> None:
    """Where the served model came from: version and alias history, MLflow run, git commit,
    DVC data hashes, resolved params, GX validation results and the Prefect flow run."""
    import mlflow

    from fitting_room.ops.lineage import format_lineage, served_lineage
    from fitting_room.tracking.mlflow_runs import configure_mlflow

    cfg = state(ctx).cfg
    configure_mlflow(cfg.tracking)
    doc = served_lineage(cfg, mlflow.MlflowClient(), what)
    typer.echo(json.dumps(doc, indent=2, sort_keys=True, default=str) if as_json else format_lineage(doc))


@app.command("drift")
def drift_command(
    ctx: typer.Context,
    incoming: Annotated[
        list[Path] | None,
        typer.Option("--incoming", help="new Clothing-Fit file(s) (default: the configured shopper sources)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report")] = False,
) -> None:
    """Compare incoming shopper data with the training reference; exit 1 when it drifted.

    The Prefect flow ``flows/drift_check.py`` runs the same check, records it and triggers retraining.
    """
    from fitting_room.ops.drift import compare_frames, load_incoming, load_reference

    cfg = state(ctx).cfg
    paths = incoming or [Path(s.path) for s in cfg.data.shoppers.sources if s.path]
    report = compare_frames(
        load_reference(cfg.ops.drift.reference),
        load_incoming(paths, cfg.validation.shoppers.ranges, cfg.data.shoppers.max_rows),
        cfg.ops.drift,
    )
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.to_markdown())
    if report.drifted:
        raise typer.Exit(1)


@rollback_app.command("bento")
def rollback_bento_command(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="bento tag to serve again (see `bentoml list`)")],
    reason: Annotated[str, typer.Option(help="why (kept in the audit record)")] = "manual rollback",
) -> None:
    """Make an earlier bento current again (its models' aliases stay; see `rollback all`)."""
    from fitting_room.ops.rollback import rollback_bento
    from fitting_room.tracking.mlflow_runs import configure_mlflow

    cfg = state(ctx).cfg
    configure_mlflow(cfg.tracking)
    record = rollback_bento(cfg, to, reason)
    typer.echo(f"bento: current -> {to} ({json.dumps(record)})")


@rollback_app.command("all")
def rollback_all_command(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="bento tag whose pinned model versions become champions")],
    reason: Annotated[str, typer.Option(help="why (kept in the audit records)")] = "manual rollback",
) -> None:
    """Roll back the whole bundle: every model's champion to the version the bento pins, then the bento."""
    import mlflow

    from fitting_room.ops.rollback import rollback_bundle
    from fitting_room.tracking.mlflow_runs import configure_mlflow

    cfg = state(ctx).cfg
    configure_mlflow(cfg.tracking)
    result = rollback_bundle(cfg, mlflow.MlflowClient(), to, reason)
    for role, record in result["models"].items():
        typer.echo(f"{role}: champion -> version {record['to_version']} (was {record.get('from_version')})")
    typer.echo(f"bento: current -> {to}")
