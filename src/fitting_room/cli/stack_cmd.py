"""``fitting-room stack up|down|status``: the production servers on this machine (``make stack``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from fitting_room.cli.main import app, state

stack_app = typer.Typer(help="PostgreSQL, S3 store, MLflow and Prefect servers + worker on loopback.")
app.add_typer(stack_app, name="stack")


def _print(statuses) -> None:
    for s in statuses:
        mark = "running" if s.running else "stopped"
        typer.echo(f"  {s.name:<9} {mark:<8} pid {s.pid or '-':<8} {s.url or ''}  log: {s.log or '-'}")


@stack_app.command("up")
def stack_up_command(ctx: typer.Context) -> None:
    """Start every server that is not running (idempotent) and write the env file to source."""
    from fitting_room.ops.stack import stack_up

    statuses, env_file = stack_up(state(ctx).cfg, Path.cwd(), dict(os.environ))
    typer.echo("stack up:")
    _print(statuses)
    typer.echo(f"\nPoint the project at it:  source {env_file}")
    for line in env_file.read_text().splitlines():
        secret = line.startswith("export AWS_SECRET_ACCESS_KEY=")
        typer.echo("export AWS_SECRET_ACCESS_KEY=...  (in the file)" if secret else line)


@stack_app.command("down")
def stack_down_command(
    ctx: typer.Context,
    purge: Annotated[
        bool, typer.Option("--purge", help="also delete the databases, objects and logs")
    ] = False,
) -> None:
    """Stop exactly the servers `stack up` started, by pid (data kept unless --purge)."""
    from fitting_room.ops.stack import stack_down

    stopped = stack_down(state(ctx).cfg, Path.cwd(), purge)
    typer.echo(f"stack down: stopped {', '.join(stopped) if stopped else 'nothing (none was running)'}")


@stack_app.command("status")
def stack_status_command(ctx: typer.Context) -> None:
    """Each server: running or not, pid, URL, log; exit 1 unless all run."""
    from fitting_room.ops.stack import stack_status

    statuses = stack_status(state(ctx).cfg, Path.cwd())
    _print(statuses)
    if not all(s.running for s in statuses):
        raise typer.Exit(1)
