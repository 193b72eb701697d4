"""``fitting-room configure``: the first pipeline stage (resolved params + input fingerprints)."""

from __future__ import annotations

import typer

from fitting_room.cli.main import app, state
from fitting_room.pipeline.configure import configure


@app.command("configure")
def configure_command(ctx: typer.Context) -> None:
    """Resolve params (profile + overrides) into build/ and fingerprint the raw inputs."""
    cfg = state(ctx).cfg
    for name, path in configure(cfg).items():
        typer.echo(f"{name}: {path}")
