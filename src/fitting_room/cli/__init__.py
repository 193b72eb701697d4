"""Command-line interface. Importing this package registers every sub-command."""

from fitting_room.cli import config_cmd, data_cmd, pipeline_cmd, validate_cmd  # noqa: F401  (registers commands)
from fitting_room.cli import serving_cmd  # noqa: F401  (registers commands)
from fitting_room.cli.main import app, run

__all__ = ["app", "run"]
