"""Command-line interface. Importing this package registers every sub-command."""

from fitting_room.cli import (  # noqa: F401  (registers commands)
    config_cmd,
    data_cmd,
    gan_cmd,
    ops_cmd,
    pipeline_cmd,
    recommender_cmd,
    serving_cmd,
    stack_cmd,
    validate_cmd,
)
from fitting_room.cli.main import app, run

__all__ = ["app", "run"]
