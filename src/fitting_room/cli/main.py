"""The ``fitting-room`` command: global options and config loading shared by sub-commands.

Each stage's sub-commands live in their own module of this package and call one function
of the library; nothing here computes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from fitting_room.config import Config, ConfigError, load_config

app = typer.Typer(
    name="fitting-room",
    help="MLOps pipeline for a GAN virtual fitting room and an AI shopping guide.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class State:
    """Global options, resolved into a config on first use."""

    def __init__(self, params: Path | None, profile: str | None, overrides: list[str]):
        self.params = params
        self.profile = profile
        self.overrides = overrides
        self._cfg: Config | None = None

    @property
    def cfg(self) -> Config:
        if self._cfg is None:
            try:
                self._cfg = load_config(self.params, self.profile, self.overrides)
            except ConfigError as err:
                fail(str(err))
        return self._cfg


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a clear error to stderr and exit non-zero (no traceback for expected errors)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@app.callback()
def main(
    ctx: typer.Context,
    params: Annotated[
        Path | None,
        typer.Option("--params", "-p", help="params file (default: params.yaml or $FITTING_ROOM_PARAMS)"),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", help="params profile, e.g. smoke (default: $FITTING_ROOM_PROFILE or 'default')"
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="override a key: --set data.shoppers.max_rows=1000 (repeatable)"),
    ] = None,
) -> None:
    ctx.obj = State(params, profile, overrides or [])


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj


def run() -> None:
    """Console-script entry point: expected errors become one clear line and their exit code.

    2 for bad input or a failed check; 75 (``EX_TEMPFAIL``) when a server could not be reached
    or went away: the same command may succeed once it is back.
    """
    from fitting_room.logs import configure_logging

    configure_logging()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # usage reports to an outside host: off
    from fitting_room.ops.preflight import run_with_one_line_errors

    run_with_one_line_errors(app, echo=lambda line: typer.secho(line, err=True, fg=typer.colors.RED))
