"""The service's JSON contract: request and response models, bounded by the serving config.

Bounds such as the largest ``n`` come from ``params.yaml`` (through the bento's arguments), so
the models are built by :func:`api_models` once the limits are known; the OpenAPI page then
shows the real bounds, and BentoML answers 400 naming the field when a request breaks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

SEED_MAX = 2**31 - 1  # request seeds (JavaScript-safe, int32)
JOB_SEED_MAX = 2**32 - 1  # per-image seeds derived from a request seed (uint32)


class Strict(BaseModel):
    """Unknown fields are errors: a typo in a request must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ImageJob(Strict):
    """One image to draw: class label, latent seed, optionally a point between two seeds."""

    label: int = Field(ge=0, le=10_000)
    seed: int = Field(ge=0, le=JOB_SEED_MAX)
    seed_to: int | None = Field(None, ge=0, le=JOB_SEED_MAX)
    t: float = Field(0.0, ge=0.0, le=1.0)  # 0 = seed, 1 = seed_to


class GeneratedImages(BaseModel):
    category: str = Field(description="generator class name")
    category_index: int
    seeds: list[int] = Field(description="per-image seed (derived from the request seed)")
    steps: list[float] = Field(description="interpolation position of each image (0 without interpolation)")
    media_type: str = "image/png"
    images: list[str] = Field(description="base64-encoded PNG images")


class FitProbabilities(BaseModel):
    small: float
    fit: float
    large: float


class SizeAdvice(BaseModel):
    size: float
    probabilities: FitProbabilities


class FitAnswer(BaseModel):
    item_id: str
    category: str | None
    advised_size: float | None
    sizes: list[SizeAdvice]


class RecommendedItem(BaseModel):
    item_id: str
    category: str | None
    generator_class: str
    score: float
    advised_size: float | None
    fit: FitProbabilities
    preview: str = Field(description="base64-encoded PNG preview generated for the item")
    preview_seed: int = Field(description="seed of the preview (/generate with it draws variations)")


class Recommendations(BaseModel):
    k: int
    cold_start: bool
    items: list[RecommendedItem]


class ServiceInfo(BaseModel):
    bento: str
    models: dict[str, dict[str, Any]]
    categories: list[str]
    limits: dict[str, int]
    batching: dict[str, Any]
    # one record per worker process: index, pid, loaded, alive, resident memory (rss_mb, MiB)
    workers: list[dict[str, Any]] = []


@dataclass(frozen=True)
class ApiModels:
    """Request models whose bounds come from the serving config."""

    GenerateRequest: type[BaseModel]
    RecommendRequest: type[BaseModel]
    FitRequest: type[BaseModel]
    max_images: int
    max_k: int
    max_sizes: int


def api_models(max_images: int, max_k: int, max_sizes: int) -> ApiModels:
    """Build the bounded request models.

    Args:
        max_images: largest ``n`` of ``/generate``.
        max_k: largest ``k`` of ``/recommend``.
        max_sizes: most sizes in one ``/fit`` request.

    Returns:
        The request model classes (response models are fixed and live at module level).
    """
    # the shopping guide's own profile model: its bounds and units are the service's contract
    from fitting_room.recommender.guide import ShopperProfile

    class GenerateRequest(Strict):
        category: Annotated[
            str | int, Field(description="garment class: name (e.g. 'dress') or index", examples=["dress"])
        ]
        n: int = Field(1, ge=1, le=max_images, description="number of images")
        seed: int = Field(0, ge=0, le=SEED_MAX, description="same seed, same images")
        interpolate_to: int | None = Field(
            None, ge=0, le=SEED_MAX, description="second seed: n images on the path from seed to it"
        )

    class RecommendRequest(Strict):
        profile: ShopperProfile = Field(description="the shopper: measurements (SI units) and preferences")
        k: int = Field(10, ge=1, le=max_k, description="number of items")

    class FitRequest(Strict):
        profile: ShopperProfile
        item_id: str = Field(min_length=1, max_length=64, description="catalog item; unknown ids: cold start")
        sizes: list[Annotated[float, Field(ge=0, le=60)]] | None = Field(
            None, min_length=1, max_length=max_sizes, description="sizes to score; default: the item's usual"
        )

    return ApiModels(
        GenerateRequest=GenerateRequest,
        RecommendRequest=RecommendRequest,
        FitRequest=FitRequest,
        max_images=max_images,
        max_k=max_k,
        max_sizes=max_sizes,
    )
