"""The bento's arguments: the resolved ``serving`` params, flattened for ``bentoml --arg``.

BentoML fixes a service's HTTP, traffic and batching options when the service class is
defined, so they travel as *bento arguments*: the package stage bakes the resolved values
into the bento (``bentoml build`` stores them), and ``bentoml serve --arg key=value`` may
override one for a run (the benchmark's no-batching baseline does exactly that).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fitting_room.config.serving import ServingConfig

# BentoML model names of the served roles (the same names as in the MLflow registry)
GENERATOR_MODEL = "fitting-room-generator"
ADVISOR_MODEL = "fitting-room-advisor"
RECOMMENDER_MODEL = "fitting-room-recommender"


class ServiceArgs(BaseModel):
    """Everything the service module needs at definition time; defaults mirror ``params.yaml``."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    threads: int = Field(4, ge=1)
    timeout_s: int = Field(30, ge=1)
    max_concurrency: int = Field(256, ge=1)
    max_request_bytes: int = Field(65536, ge=1024)
    access_log: bool = True
    max_images: int = Field(16, ge=1)
    max_k: int = Field(50, ge=1)
    max_sizes: int = Field(30, ge=1)
    max_history: int = Field(200, ge=0)
    preview_cache: int = Field(4096, ge=0)
    preview_seed: int = Field(0, ge=0)
    batching: bool = True
    max_batch_size: int = Field(64, ge=1)
    generator_model: str = f"{GENERATOR_MODEL}:latest"  # BentoML model tag
    advisor_model: str = f"{ADVISOR_MODEL}:latest"  # BentoML model tag
    recommender_model: str = f"{RECOMMENDER_MODEL}:latest"  # BentoML model tag


def service_args(cfg: ServingConfig, model_tags: dict[str, str] | None = None) -> dict:
    """Bento arguments for a serving config and (optionally) pinned model tags.

    Args:
        cfg: the ``serving`` section.
        model_tags: role (``generator``, ``advisor``, ``recommender``) -> BentoML model tag.
    """
    args = ServiceArgs(
        host=cfg.host,
        port=cfg.port,
        workers=cfg.workers,
        threads=cfg.threads,
        timeout_s=cfg.timeout_s,
        max_concurrency=cfg.max_concurrency,
        max_request_bytes=cfg.max_request_bytes,
        access_log=cfg.access_log,
        max_images=cfg.max_images,
        max_k=cfg.max_k,
        max_sizes=cfg.max_sizes,
        max_history=cfg.max_history,
        preview_cache=cfg.preview_cache,
        preview_seed=cfg.preview_seed,
        batching=cfg.batching.enabled,
        max_batch_size=cfg.batching.max_batch_size,
    )
    pinned = {f"{role}_model": tag for role, tag in (model_tags or {}).items()}
    args = ServiceArgs.model_validate({**args.model_dump(), **pinned})
    return args.model_dump()
