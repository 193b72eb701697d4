"""``fitting-room config``: show or write the resolved configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from fitting_room.cli.main import app, state
from fitting_room.config import dump_resolved


@app.command("config")
def config_command(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="write the resolved config to this file")] = None,
) -> None:
    """Validate params (profile and overrides applied) and print or write the result."""
    cfg = state(ctx).cfg
    if out is None:
        typer.echo(yaml.safe_dump(cfg.as_dict(), sort_keys=False))
    else:
        dump_resolved(cfg, out)
        typer.echo(f"resolved config ({cfg.profile}) written to {out}")
