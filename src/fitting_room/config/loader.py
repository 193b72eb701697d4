"""Read ``params.yaml`` once: pick a profile, apply overrides, validate, resolve.

Resolution order (later wins): the base document of ``params.yaml`` -> the profile
overlay under ``profiles.<name>`` -> ``--set key=value`` overrides.  The profile comes
from the ``--profile`` option, else ``FITTING_ROOM_PROFILE``, else ``default``; extra
overrides also come from ``FITTING_ROOM_SET`` (``a.b=1;c.d=x``).  A resolved file (what
:func:`dump_resolved` writes) loads as it is: profiles are already applied in it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fitting_room.config.schema import Config

PROFILE_ENV = "FITTING_ROOM_PROFILE"
OVERRIDES_ENV = "FITTING_ROOM_SET"
PARAMS_ENV = "FITTING_ROOM_PARAMS"
DEFAULT_PARAMS = "params.yaml"
RESOLVED_MARKER = "resolved_from"


class ConfigError(ValueError):
    """A params file, profile or override is unknown, mistyped or out of range."""


def load_config(
    path: str | Path | None = None,
    profile: str | None = None,
    overrides: list[str] | None = None,
) -> Config:
    """Load, overlay and validate the pipeline configuration.

    Args:
        path: params file; defaults to ``$FITTING_ROOM_PARAMS`` or ``params.yaml``.
        profile: profile name; defaults to ``$FITTING_ROOM_PROFILE`` or ``default``.
        overrides: ``dotted.key=value`` strings (values parsed as YAML scalars).

    Returns:
        The validated, frozen configuration.

    Raises:
        ConfigError: naming the file and the offending key.
    """
    path = Path(path or os.environ.get(PARAMS_ENV) or DEFAULT_PARAMS)
    raw = _read_yaml(path)
    profiles = raw.pop("profiles", {}) or {}
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a mapping of profile name to overrides")

    if RESOLVED_MARKER in raw:
        resolved_name = raw.pop(RESOLVED_MARKER).get("profile", "default")
        if profile and profile != resolved_name:
            raise ConfigError(
                f"{path} is a resolved config of profile {resolved_name!r}; "
                f"it cannot be re-resolved as profile {profile!r}"
            )
        profile = resolved_name
    else:
        profile = profile or os.environ.get(PROFILE_ENV) or "default"
        if profile != "default":
            if profile not in profiles:
                known = ", ".join(["default", *sorted(profiles)])
                raise ConfigError(f"{path}: unknown profile {profile!r} (known: {known})")
            raw = deep_merge(raw, profiles[profile], where=f"profiles.{profile}")

    all_overrides = [*_env_overrides(), *(overrides or [])]
    for item in all_overrides:
        key, value = parse_override(item)
        raw = set_dotted(raw, key, value)

    raw["profile"] = profile
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(path, err)) from None


def dump_resolved(cfg: Config, path: str | Path, source: str | Path = DEFAULT_PARAMS) -> Path:
    """Write the resolved config as YAML, atomically, so a run can be replayed exactly."""
    from fitting_room.files import atomic_write_text

    doc = {RESOLVED_MARKER: {"file": str(source), "profile": cfg.profile}}
    doc.update(cfg.as_dict())
    doc.pop("profile", None)
    return atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False))


def config_hash(cfg: Config) -> str:
    """Short, stable hash of the resolved config (used as a lineage label)."""
    blob = json.dumps(cfg.as_dict(), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def deep_merge(base: dict, overlay: dict, where: str = "") -> dict:
    """Return ``base`` with ``overlay`` merged in; mappings merge, everything else replaces."""
    if not isinstance(overlay, dict):
        raise ConfigError(f"{where or 'overlay'} must be a mapping, got {type(overlay).__name__}")
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value, where=f"{where}.{key}" if where else key)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(item: str) -> tuple[str, Any]:
    """Split ``a.b=value`` and parse the value as a YAML scalar or flow collection."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r} is not of the form dotted.key=value")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {key}: value {text!r} is not valid YAML ({err})") from None
    return key, value


def set_dotted(doc: dict, key: str, value: Any) -> dict:
    """Return a copy of ``doc`` with ``key`` (dotted path) set; parents are created."""
    out = copy.deepcopy(doc)
    node: Any = out
    parts = key.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):  # list items by position: data.shoppers.sources.0.path=...
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"override {key}: {part!r} is not an index of a {len(node)}-item list")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"override {key}: {parts[i - 1]!r} is a value, not a section")
        if last:
            node[part] = value
        else:
            node = node.setdefault(part, {})
    return out


def format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid configuration ({err.error_count()} problem(s))"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            lines.append(f"  - {key}: unknown key (typo?)")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  - {key}: {e['msg']}{shown}")
    return "\n".join(lines)


def _env_overrides() -> list[str]:
    text = os.environ.get(OVERRIDES_ENV, "").strip()
    return [part.strip() for part in text.split(";") if part.strip()]


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"params file not found: {path}") from None
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return doc
