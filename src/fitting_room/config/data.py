"""Config sections for data ingestion and validation (``data:`` and ``validation:``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, HttpUrl, field_validator, model_validator

from fitting_room.config.base import Section

FASHION_MNIST_CLASSES = (
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)


class FashionMnistConfig(Section):
    path: Path | None = None  # a folder with the four IDX files (.gz or raw); tried first
    system_path: Path = Path("/usr/share/datasets/fashion-mnist")  # Debian dataset-fashion-mnist
    base_url: HttpUrl = HttpUrl("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")
    download_dir: Path = Path("data/downloads/fashion-mnist")
    download: bool = True
    timeout_s: float = Field(60.0, gt=0)  # seconds to wait for a connection or a read when downloading
    max_train: int | None = Field(None, gt=0)  # keep the first N train images (stratified)
    max_test: int | None = Field(None, gt=0)


class CatalogConfig(Section):
    dir: Path | None = None  # folder holding catalog.csv and the images
    csv: str = "catalog.csv"
    test_fraction: float = Field(0.1, gt=0, lt=1)
    max_quarantine_share: float = Field(0.05, ge=0, le=1)
    class_names: list[str] | None = None  # fixed order of categories; None = sorted as found
    max_aspect_ratio: float = Field(4.0, ge=1)  # longer/shorter side above this -> quarantined


class ImagesConfig(Section):
    source: Literal["fashion_mnist", "catalog"] = "fashion_mnist"
    resolution: int = Field(28, ge=8, le=512)  # pixels per side of every stored image
    channels: Literal[1, 3] = 1
    fashion_mnist: FashionMnistConfig = FashionMnistConfig()
    catalog: CatalogConfig = CatalogConfig()
    out_dir: Path = Path("data/images")

    @model_validator(mode="after")
    def _fashion_mnist_shape(self) -> ImagesConfig:
        if self.source == "fashion_mnist" and (self.resolution, self.channels) != (28, 1):
            raise ValueError(
                "data.images.resolution/channels must be 28/1 for source fashion_mnist "
                f"(got {self.resolution}/{self.channels})"
            )
        if self.source == "catalog" and self.catalog.dir is None:
            raise ValueError("data.images.catalog.dir must be set when source is 'catalog'")
        return self


class ShopperSource(Section):
    name: Literal["renttherunway", "modcloth"]
    path: Path | None = None  # local JSON-lines file (.json or .json.gz); tried first
    url: HttpUrl | None = None  # public download, used when path is unset or missing
    required: bool = True  # False: a missing file is skipped with a warning


class ShoppersConfig(Section):
    sources: list[ShopperSource] = Field(min_length=1)
    download_dir: Path = Path("data/downloads/clothing-fit")
    timeout_s: float = Field(60.0, gt=0)  # seconds to wait for a connection or a read when downloading
    max_rows: int | None = Field(None, gt=0)  # per source; None = all
    out_dir: Path = Path("data/shoppers")


class DataConfig(Section):
    images: ImagesConfig = ImagesConfig()
    shoppers: ShoppersConfig


class ImageValidationConfig(Section):
    min_train_rows: int = Field(1000, ge=1)
    min_test_rows: int = Field(100, ge=1)
    class_balance_tolerance: float = Field(0.25, ge=0, le=10)  # max |share/expected - 1| per class
    check_leakage: bool = True  # no identical image in train and test


class Range(Section):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class ShopperValidationConfig(Section):
    min_rows: int = Field(50, ge=1)
    # plausible ranges in SI units; values outside are set to missing and counted
    ranges: dict[str, Range] = Field(
        default_factory=lambda: {
            "height_cm": Range(min=120, max=220),
            "weight_kg": Range(min=30, max=250),
            "age_years": Range(min=13, max=100),
            "bust_band_cm": Range(min=60, max=140),
            "size": Range(min=0, max=60),
        }
    )
    max_out_of_range_share: float = Field(0.02, ge=0, le=1)  # per column, before failing
    max_missing_share: dict[str, float] = Field(default_factory=dict)  # column -> allowed share

    @field_validator("max_missing_share")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: s for k, s in v.items() if not 0 <= s <= 1}
        if bad:
            raise ValueError(f"shares must be within [0, 1]: {bad}")
        return v


class ValidationConfig(Section):
    images: ImageValidationConfig = ImageValidationConfig()
    shoppers: ShopperValidationConfig = ShopperValidationConfig()
    reports_dir: Path = Path("reports/validation")
    sample_failures: int = Field(5, ge=1, le=100)  # offending values shown per failed check
