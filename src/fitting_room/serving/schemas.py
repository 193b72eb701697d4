"""The service's JSON contract: request and response models, bounded by the serving config.

Bounds such as the largest ``n`` come from ``params.yaml`` (through the bento's arguments), so
the models are built by :func:`api_models` once the limits are known; the OpenAPI page then
shows the real bounds, and BentoML answers 400 naming the field when a request breaks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Style = Literal["raw", "photo"]
STYLE_HELP = "raw: the generator's image; photo: its cut-out, smoothly upscaled on a light background"
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


class FitMark(BaseModel):
    landmark: Literal["bust", "waist", "hips"]
    kind: Literal["snug", "loose"]


class TryOnSize(BaseModel):
    size: float
    probabilities: FitProbabilities = Field(
        description="the advisor's P(small), P(fit), P(large) at this size"
    )
    marks: list[FitMark] = Field(description="where the view marks the garment snug or loose")
    note: str = Field(description="the fit note, with the probabilities it came from")
    alt: str = Field(description="text alternative of the image: the size and the fit note")
    image: str = Field(description="base64-encoded PNG: the garment at this size on the shopper's figure")


class TryOnAnswer(BaseModel):
    item_id: str | None
    category: str | None
    generator_class: str
    seed: int = Field(description="seed of the garment's image (/generate with it draws the same garment)")
    advised_size: float | None
    expected_size: float | None = Field(description="size shoppers like this one who reported a fit chose")
    measurements: dict[str, float] = Field(description="the body drawn (cm, kg)")
    imputed: list[str] = Field(description="measurements estimated from the given ones, not given")
    disclaimer: str
    media_type: str = "image/png"
    sizes: list[TryOnSize]


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
    TryOnRequest: type[BaseModel]
    max_images: int
    max_k: int
    max_sizes: int


def api_models(max_images: int, max_k: int, max_sizes: int, max_tryon_sizes: int = 5) -> ApiModels:
    """Build the bounded request models.

    Args:
        max_images: largest ``n`` of ``/generate``.
        max_k: largest ``k`` of ``/recommend``.
        max_sizes: most sizes in one ``/fit`` request.
        max_tryon_sizes: most sizes drawn in one ``/try-on`` request.

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
        style: Style = Field("raw", description=STYLE_HELP)

    class RecommendRequest(Strict):
        profile: ShopperProfile = Field(description="the shopper: measurements (SI units) and preferences")
        k: int = Field(10, ge=1, le=max_k, description="number of items")
        style: Style = Field("raw", description=STYLE_HELP)

    class FitRequest(Strict):
        profile: ShopperProfile
        item_id: str = Field(min_length=1, max_length=64, description="catalog item; unknown ids: cold start")
        sizes: list[Annotated[float, Field(ge=0, le=60)]] | None = Field(
            None, min_length=1, max_length=max_sizes, description="sizes to score; default: the item's usual"
        )

    class TryOnRequest(Strict):
        profile: ShopperProfile = Field(
            description="the shopper: measurements (SI units); missing ones are imputed"
        )
        item_id: str | None = Field(
            None, min_length=1, max_length=64, description="catalog item (drawn as its preview shows it)"
        )
        category: Annotated[
            str | int | None,
            Field(description="instead of an item: a garment class (with seed)", examples=["dress"]),
        ] = None
        seed: int = Field(0, ge=0, le=SEED_MAX, description="with category: the garment image's seed")
        sizes: list[Annotated[float, Field(ge=0, le=60)]] | None = Field(
            None,
            min_length=1,
            max_length=max_tryon_sizes,
            description="sizes to draw; default: the advised size and one step down and up",
        )

    return ApiModels(
        GenerateRequest=GenerateRequest,
        RecommendRequest=RecommendRequest,
        FitRequest=FitRequest,
        TryOnRequest=TryOnRequest,
        max_images=max_images,
        max_k=max_k,
        max_sizes=max_sizes,
    )
