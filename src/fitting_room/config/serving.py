"""Config section for the BentoML service and its packaging (``serving:``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from fitting_room.config.base import Section


class BatchingConfig(Section):
    # True = continuous batching: images of concurrent requests share generator calls;
    # False = plain handler, one generator call per request (the benchmark baseline)
    enabled: bool = True
    max_batch_size: int = Field(64, ge=1, le=4096)  # images per generator call, at most


class SmokeCheckConfig(Section):
    startup_timeout_s: float = Field(180.0, gt=0)  # seconds for `bentoml serve` to become ready
    request_timeout_s: float = Field(30.0, gt=0)  # seconds per smoke request
    latency_budget_ms: float = Field(1000.0, gt=0)  # every warm smoke request must answer within this
    repeats: int = Field(5, ge=1, le=100)  # warm calls per endpoint; the slowest is checked


class TryOnConfig(Section):
    """The try-on view (``POST /try-on``, src/fitting_room/tryon/)."""

    max_sizes: int = Field(5, ge=1, le=20)  # sizes drawn in one /try-on request, at most
    mark_threshold: float = Field(0.4, gt=0.0, lt=1.0)  # P(small) / P(large) above this marks snug / loose
    width_px: int = Field(192, ge=64, le=1024)  # canvas width of a try-on image, pixels
    height_px: int = Field(288, ge=96, le=1536)  # canvas height, pixels
    px_per_cm: float = Field(1.3, gt=0.1, le=10.0)  # drawing scale, pixels per body cm (fixed: sizes compare)
    ease_cm: float = Field(6.0, ge=0.0, le=40.0)  # garment minus body circumference at the expected size, cm
    grade_cm_per_size: float = Field(1.27, gt=0.0, le=10.0)  # circumference added per size unit, cm
    photo_px: int = Field(128, ge=32, le=512)  # side of a garment's product photo (style "photo"), pixels
    # garment cut-outs kept in memory (LRU); each holds ~0.8 MiB (image, alpha, premultiplied copy)
    cutout_cache: int = Field(64, ge=0, le=4096)


class ServingConfig(Section):
    bento_name: str = Field("fitting-room", min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    bentofile: Path = Path("bentofile.yaml")  # BentoML build file (top level)
    build_ctx: Path = Path("src")  # build context: the bento ships the fitting_room package from here
    out_dir: Path = Path("models/bento")  # exported .bento archive + current.json (DVC out)
    reports_dir: Path = Path("reports/serving")  # smoke_check.json (DVC metrics)
    host: str = "127.0.0.1"  # bind address; loopback by default, 0.0.0.0 only on purpose
    port: int = Field(3000, ge=1, le=65535)  # HTTP port of `fitting-room serve`
    workers: int = Field(1, ge=1, le=64)  # server processes (each loads every model)
    threads: int = Field(4, ge=1, le=64)  # threads per worker running synchronous handlers
    timeout_s: int = Field(30, ge=1, le=3600)  # request timeout, seconds
    max_concurrency: int = Field(256, ge=1)  # requests in flight per worker before 503
    max_request_bytes: int = Field(65536, ge=1024)  # larger request bodies get 413
    access_log: bool = True  # one log line per request (costs CPU per request; probes are never logged)
    # OpenTelemetry spans per request (BentoML's tracing; its exporter and sample_rate come from
    # a BentoML config file, BENTOML_CONFIG). False: requests skip the span middleware, about a
    # fifth of a small request's CPU, and carry no trace ids (X-BentoML-Request-ID, access log)
    tracing: bool = False
    max_images: int = Field(16, ge=1, le=256)  # upper bound of n in /generate
    max_k: int = Field(50, ge=1, le=1000)  # upper bound of k in /recommend
    max_sizes: int = Field(30, ge=1, le=200)  # sizes asked about in one /fit request, at most
    max_history: int = Field(200, ge=0, le=10000)  # history items in one shopper profile, at most
    preview_cache: int = Field(4096, ge=0, le=1_000_000)  # item previews kept in memory (LRU); 0 = off
    preview_seed: int = Field(0, ge=0)  # base seed of item preview images (per item: hash of its id)
    batching: BatchingConfig = BatchingConfig()
    tryon: TryOnConfig = TryOnConfig()
    smoke_check: SmokeCheckConfig = SmokeCheckConfig()

    @model_validator(mode="after")
    def _batch_holds_a_request(self) -> ServingConfig:
        largest = max(self.max_images, self.max_k)
        if self.batching.max_batch_size < largest:
            raise ValueError(
                f"batching.max_batch_size ({self.batching.max_batch_size}) must be >= max_images and "
                f"max_k ({largest}) so one request's images fit in one generator call"
            )
        return self
