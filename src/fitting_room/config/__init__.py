"""Typed, validated configuration loaded once from params.yaml."""

from fitting_room.config.loader import (
    ConfigError,
    config_hash,
    dump_resolved,
    load_config,
)
from fitting_room.config.schema import Config

__all__ = ["Config", "ConfigError", "config_hash", "dump_resolved", "load_config"]
