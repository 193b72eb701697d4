"""``fitting-room package``, ``serve`` and ``smoke-check``: the serving bundle's commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from fitting_room.cli.main import app, fail, state


@app.command("package")
def package_command(ctx: typer.Context) -> None:
    """Import the champion models into BentoML, build the bento, smoke-check it, make it current."""
    from fitting_room.serving.package import package

    result = package(state(ctx).cfg)
    typer.echo(f"bento {result.bento_tag} is current ({result.archive})")
    for model in result.models:
        typer.echo(f"  {model.role}: {model.registered_name} v{model.mlflow_version} -> {model.bentoml_tag}")


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    bento: Annotated[str | None, typer.Option(help="bento tag (default: the current one)")] = None,
    host: Annotated[str | None, typer.Option(help="bind address (default: serving.host)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: serving.port)")] = None,
    arg: Annotated[list[str] | None, typer.Option("--arg", help="bento argument override key=value")] = None,
) -> None:
    """Serve the current bento (the page is at http://HOST:PORT/shop/)."""
    from fitting_room.serving.package import current_bento
    from fitting_room.serving.server import serve_command as command

    cfg = state(ctx).cfg
    target = bento or current_bento(cfg)
    host = host or cfg.serving.host
    port = port or cfg.serving.port
    overrides = dict(item.split("=", 1) for item in (arg or []) if "=" in item)
    if len(overrides) != len(arg or []):
        fail("--arg expects key=value")
    cmd = command(target, host, port, overrides)
    typer.echo(f"serving {target} on http://{host}:{port} (shopper page: /shop/)", err=True)
    sys.stdout.flush()
    os.execve(cmd[0], cmd, {**os.environ, "BENTOML_DO_NOT_TRACK": "true"})


@app.command("smoke-check")
def smoke_check_command(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Argument(help="bento tag or module:Service (default: current)")
    ] = None,
    log: Annotated[Path, typer.Option(help="server log file")] = Path("build/serving/smoke-serve.log"),
) -> None:
    """Serve a bento on a free loopback port, call every endpoint, report; exit 1 on failure."""
    from fitting_room.serving.package import current_bento
    from fitting_room.serving.smoke import smoke_check

    cfg = state(ctx).cfg
    report = smoke_check(target or current_bento(cfg), cfg.serving, log)
    typer.echo(json.dumps(report, indent=2))
    if not report["passed"]:
        raise typer.Exit(1)
