"""``fitting-room ingest images|shoppers``: the ingest stages, each in its own MLflow run."""

from __future__ import annotations

import json

import typer

from fitting_room.cli.main import app, state

ingest_app = typer.Typer(
    help="Ingest raw data into the typed artifacts later stages read.", no_args_is_help=True
)
app.add_typer(ingest_app, name="ingest")


@ingest_app.command("images")
def ingest_images_command(ctx: typer.Context) -> None:
    """Fashion-MNIST IDX files or a retailer catalog -> data/images/{train,test}.npz + meta.json."""
    import mlflow

    from fitting_room.data.ingest import ingest_images, result_dict
    from fitting_room.tracking.mlflow_runs import stage_run

    cfg = state(ctx).cfg
    images = cfg.data.images
    with stage_run(cfg, "ingest_images"):
        result = ingest_images(images, cfg.seed)
        mlflow.log_metrics(result.metrics())
        mlflow.log_artifact(str(images.out_dir / "meta.json"), artifact_path="ingest_images")
        quarantine = images.out_dir / "quarantine.csv"
        if images.source == "catalog" and quarantine.is_file():
            mlflow.log_artifact(str(quarantine), artifact_path="ingest_images")
    typer.echo(json.dumps(result_dict(result)))


@ingest_app.command("shoppers")
def ingest_shoppers_command(ctx: typer.Context) -> None:
    """Clothing-Fit JSON lines (RTR, ModCloth) -> data/shoppers/transactions.parquet + meta.json."""
    import mlflow

    from fitting_room.data.ingest import ingest_shoppers, result_dict
    from fitting_room.tracking.mlflow_runs import stage_run

    cfg = state(ctx).cfg
    shoppers = cfg.data.shoppers
    with stage_run(cfg, "ingest_shoppers"):
        result = ingest_shoppers(shoppers)
        mlflow.log_metrics(result.metrics())
        mlflow.log_artifact(str(shoppers.out_dir / "meta.json"), artifact_path="ingest_shoppers")
    typer.echo(json.dumps(result_dict(result)))
