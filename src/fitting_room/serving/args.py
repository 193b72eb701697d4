"""The bento's arguments: the resolved ``serving`` params, flattened for ``bentoml --arg``.

BentoML fixes a service's HTTP, traffic and batching options when the service class is
defined, so they travel as *bento arguments*: the package stage bakes the resolved values
into the bento (``bentoml build`` stores them), and ``bentoml serve --arg key=value`` may
override one for a run (the benchmark's no-batching baseline does exactly that).

The argument model is derived from :class:`~fitting_room.config.serving.ServingConfig`, so
a bound or default lives in one place: ``--arg max_images=10000`` fails exactly as
``--set serving.max_images=10000`` does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from fitting_room.config.serving import BatchingConfig, ServingConfig, TryOnConfig
from fitting_room.tracking.roles import REGISTERED_MODELS

# bento argument -> where it lives in the serving config
SERVING_FIELDS: dict[str, tuple[str, ...]] = {
    name: (name,)
    for name in (
        "host",
        "port",
        "workers",
        "threads",
        "timeout_s",
        "max_concurrency",
        "max_request_bytes",
        "access_log",
        "tracing",
        "max_images",
        "max_k",
        "max_sizes",
        "max_history",
        "preview_cache",
        "preview_seed",
    )
} | {"batching": ("batching", "enabled"), "max_batch_size": ("batching", "max_batch_size")}
# the try-on view's knobs: serving.tryon.<name> -> argument tryon_<name>
SERVING_FIELDS |= {f"tryon_{name}": ("tryon", name) for name in TryOnConfig.model_fields}


def _field(path: tuple[str, ...]) -> tuple[Any, Any]:
    sections: dict[str, type[BaseModel]] = {"batching": BatchingConfig, "tryon": TryOnConfig}
    section = sections[path[0]] if len(path) > 1 else ServingConfig
    info = section.model_fields[path[-1]]
    return info.annotation, info


class _ArgsBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


_FIELDS: dict[str, Any] = {
    **{name: _field(path) for name, path in SERVING_FIELDS.items()},
    # one BentoML model tag per role: generator_model, guide_model
    **{f"{role}_model": (str, f"{name}:latest") for role, name in REGISTERED_MODELS.items()},
}
ServiceArgs = create_model(
    "ServiceArgs",
    __base__=_ArgsBase,
    __doc__="Everything the service module needs at definition time (fields of ``serving``).",
    **_FIELDS,
)


def service_args(cfg: ServingConfig, model_tags: dict[str, str] | None = None) -> dict:
    """Bento arguments for a serving config and (optionally) pinned model tags.

    Args:
        cfg: the ``serving`` section.
        model_tags: role (``generator``, ``guide``) -> BentoML model tag.
    """
    values: dict[str, Any] = {}
    for name, path in SERVING_FIELDS.items():
        value: Any = cfg
        for key in path:
            value = getattr(value, key)
        values[name] = value
    pinned = {f"{role}_model": tag for role, tag in (model_tags or {}).items()}
    return ServiceArgs.model_validate({**values, **pinned}).model_dump()
