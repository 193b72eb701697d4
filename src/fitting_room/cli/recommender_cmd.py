"""``fitting-room fit-recommender``, ``advise-fit`` and ``recommend``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fitting_room.cli.main import app, state
from fitting_room.errors import FittingRoomError


@app.command("fit-recommender")
def fit_recommender_command(
    ctx: typer.Context,
    shoppers: Annotated[
        Path | None,
        typer.Option(help="validated shoppers parquet (default: <data.shoppers.out_dir>/validated.parquet)"),
    ] = None,
    track: Annotated[bool, typer.Option(help="log to MLflow and apply the promotion gate")] = True,
) -> None:
    """Train the shopping guide (fit advisor + catalog ranker), evaluate, save, log and gate it."""
    from fitting_room.recommender.stage import fit_recommender

    cfg = state(ctx).cfg
    path = shoppers or cfg.data.shoppers.out_dir / "validated.parquet"
    result = fit_recommender(cfg, path, track=track)
    m, k = result.metrics, cfg.recommender.ranker.k
    typer.echo(
        f"advisor AUC {m['advisor_auc_macro']:.4f}, macro-F1 {m['advisor_macro_f1']:.4f}; "
        f"Recall@{k} {m[f'recall_at_{k}']:.4f} -> {result.model_dir}"
    )
    if result.gate_summary:
        typer.echo(result.gate_summary)
    for name, alias in result.aliases.items():
        typer.echo(f"{name} v{result.versions[name]} -> {alias}")


@app.command("advise-fit")
def advise_fit_command(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Option(help="Clothing-Fit JSON-lines file (.json or .json.gz); fit labels ignored")
    ],
    out: Annotated[Path, typer.Option(help="CSV to write: row,p_small,p_fit,p_large,advised_size")],
    model_uri: Annotated[
        str | None, typer.Option(help="guide folder or models:/ URI (default: the guide's champion)")
    ] = None,
) -> None:
    """Fit probabilities at each line's size and the advised size, one CSV row per input line."""
    from fitting_room.recommender.predict import advise_file, load_guide

    cfg = state(ctx).cfg
    if not data.is_file():  # the shopper's file is checked before the model is loaded
        raise FittingRoomError(f"--data {data}: no such file")
    if not out.parent.is_dir():
        raise FittingRoomError(f"--out {out}: folder {out.parent} does not exist")
    guide = load_guide(cfg, model_uri)
    n = advise_file(guide, data, out, cfg.validation.shoppers.ranges)
    typer.echo(f"{n} rows advised -> {out}")


@app.command("recommend")
def recommend_command(
    ctx: typer.Context,
    height_cm: Annotated[float | None, typer.Option(help="body height, cm")] = None,
    weight_kg: Annotated[float | None, typer.Option(help="body weight, kg")] = None,
    bust_band_cm: Annotated[float | None, typer.Option(help="bra band, cm")] = None,
    cup: Annotated[str | None, typer.Option(help="bra cup, e.g. b or dd/e")] = None,
    age_years: Annotated[float | None, typer.Option(help="age, years")] = None,
    body_type: Annotated[str | None, typer.Option(help="e.g. hourglass")] = None,
    occasion: Annotated[str | None, typer.Option(help='"rented for", e.g. wedding')] = None,
    category: Annotated[list[str] | None, typer.Option(help="preferred category (repeatable)")] = None,
    user_id: Annotated[str | None, typer.Option(help="known shopper id")] = None,
    k: Annotated[int, typer.Option(help="number of items")] = 10,
    model_uri: Annotated[str | None, typer.Option(help="guide folder or models:/ URI")] = None,
) -> None:
    """Rank the catalog for one shopper and print JSON (items, advised sizes, fit probabilities)."""
    from fitting_room.recommender.guide import ShopperProfile
    from fitting_room.recommender.predict import load_guide

    cfg = state(ctx).cfg
    profile = ShopperProfile.parse(
        {
            "height_cm": height_cm,
            "weight_kg": weight_kg,
            "bust_band_cm": bust_band_cm,
            "cup": cup,
            "age_years": age_years,
            "body_type": body_type,
            "occasion": occasion,
            "categories": tuple(category or ()),
            "user_id": user_id,
        }
    )
    guide = load_guide(cfg, model_uri)
    typer.echo(json.dumps(guide.recommend(profile, k), indent=2))
