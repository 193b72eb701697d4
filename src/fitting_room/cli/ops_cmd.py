"""``fitting-room lineage``, ``drift`` and ``rollback``: operations commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fitting_room.cli.main import app, state
from fitting_room.errors import FittingRoomError


@app.command("lineage")
def lineage_command(
    ctx: typer.Context,
    what: Annotated[str, typer.Argument(help="generator | guide | bento")] = "bento",
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
    from fitting_room.ops.drift import check_drift, incoming_paths

    cfg = state(ctx).cfg
    report = check_drift(cfg, incoming_paths(cfg, incoming))
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.to_markdown())
    if report.drifted:
        raise typer.Exit(1)


@app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    what: Annotated[
        str,
        typer.Argument(
            help="generator | guide: a model's champion alias (--to VERSION); bento: the served "
            "bento (--to TAG); all: every model to the versions bento TAG pins, then the bento"
        ),
    ],
    to: Annotated[str, typer.Option("--to", help="registered version (a model) or bento tag (bento, all)")],
    reason: Annotated[str, typer.Option(help="why (kept in the audit record)")] = "manual rollback",
) -> None:
    """Move a model's champion alias, the served bento, or all of them back; every move is audited."""
    import mlflow

    from fitting_room.ops.rollback import ROLLBACK_TARGETS, rollback_bento, rollback_bundle
    from fitting_room.tracking.mlflow_runs import configure_mlflow
    from fitting_room.tracking.promotion import rollback
    from fitting_room.tracking.roles import registered_models

    if what not in ROLLBACK_TARGETS:
        raise FittingRoomError(f"rollback: unknown target {what!r} (choose {' | '.join(ROLLBACK_TARGETS)})")
    cfg = state(ctx).cfg
    configure_mlflow(cfg.tracking)
    names = registered_models(cfg.profile)
    if what in names:
        name = names[what]
        record = rollback(mlflow.MlflowClient(), name, to, reason)
        typer.echo(f"{name}: champion -> version {to} ({json.dumps(record)})")
    elif what == "bento":
        record = rollback_bento(cfg, to, reason)
        typer.echo(f"bento: current -> {to} ({json.dumps(record)})")
    else:
        result = rollback_bundle(cfg, mlflow.MlflowClient(), to, reason)
        for role, moved in result["models"].items():
            typer.echo(f"{role}: champion -> version {moved['to_version']} (was {moved.get('from_version')})")
        typer.echo(f"bento: current -> {to}")
