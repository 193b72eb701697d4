"""The fitting room behind ``/try-on`` and the product photos: the try-on view, shaped for HTTP.

The drawing is :mod:`fitting_room.tryon` (plain arrays in, PNG bytes out); this module picks
the garment (an item's preview image, or a category and seed), completes the shopper's body
with the guide's own measurement imputer, asks the guide for the probabilities at each size
and the shopper's expected size, and turns the views into the response model.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from fitting_room.serving.images import decode_png_base64, png_base64
from fitting_room.serving.schemas import FitMark, FitProbabilities, ImageJob, TryOnAnswer, TryOnSize
from fitting_room.serving.studio import RequestError, Studio
from fitting_room.tryon.garment import FABRICS, KINDS, Cutout, cut_out
from fitting_room.tryon.view import SizeFit, ViewConfig, product_photo, try_on

FIGURE_ALT = "a figure drawn from your measurements"
DISCLAIMER = "A drawing scaled from your measurements, not a photo."
PROFILE_MEASURES = ("height_cm", "weight_kg", "bust_band_cm", "waist_cm", "hips_cm", "age_years")


@dataclass(frozen=True)
class Garment:
    """What to draw: the generator job of its image, and what the advisor knows it as."""

    job: ImageJob
    generator_class: str
    item_id: str | None
    category: str | None  # the guide's category of the item (None: unknown)

    @property
    def cache_key(self) -> str:
        return f"{self.job.label}:{self.job.seed}"


def pick_garment(
    studio: Studio, guide: Any, item_id: str | None, category: str | int | None, seed: int, preview_seed: int
) -> Garment:
    """The garment of a request: a catalog item (as its preview shows it) or a class and seed.

    Raises:
        RequestError: naming ``item_id`` (unknown: 404; or neither/both given) or ``category``
            (unknown, or not worn on the body).
    """
    if (item_id is None) == (category is None):
        raise RequestError(
            "item_id", "give either an item_id or a category (with a seed), not both or neither"
        )
    if item_id is not None:
        pos = guide.index.position.get(item_id)
        if pos is None:
            raise RequestError("item_id", f"unknown item {item_id!r}; try-on draws catalog items", status=404)
        generator_class = str(guide.index.generator_classes[pos])
        label = studio.category_index(generator_class, "item_id")
        job = studio.preview_job(label, item_id, preview_seed)
        garment = Garment(job, generator_class, item_id, str(guide.index.categories[pos]) or None)
    else:
        if category is None:
            raise RequestError("category", "give an item_id or a category to try on")
        label = studio.category_index(category)
        generator_class = studio.class_names[label]
        garment = Garment(studio.plan(label, 1, seed)[0], generator_class, None, None)
    if garment.generator_class.lower() not in KINDS:
        field = "item_id" if item_id is not None else "category"
        raise RequestError(
            field, f"a {garment.generator_class} is not worn on the body; try-on draws {', '.join(KINDS)}"
        )
    return garment


def fabric_of(job: ImageJob) -> int:
    """A grey generator's garment is dyed by its seed: the same garment, the same colour everywhere."""
    return job.seed % len(FABRICS)


def cutout_of(image_b64: str, job: ImageJob) -> Cutout:
    """The upscaled cut-out of one generated image (base64 PNG)."""
    return cut_out(decode_png_base64(image_b64), fabric=fabric_of(job))


def photo_of(image_b64: str, job: ImageJob, side: int) -> str:
    """A generated image as a product photo: the cut-out on a light background (base64 PNG)."""
    return png_base64(product_photo(cutout_of(image_b64, job), side))


def view_sizes(answer: dict, asked: list[float] | None) -> list[dict]:
    """The rows of ``answer`` to draw: those asked, else the advised size and one step each side."""
    rows = answer["sizes"]
    if asked is not None:
        return rows
    sizes = [row["size"] for row in rows]
    i = sizes.index(answer["advised_size"]) if answer["advised_size"] in sizes else 0
    return rows[max(i - 1, 0) : i + 2]


def measurements(guide: Any, profile: Any) -> Any:
    """The shopper's complete body: what they gave, the rest from the guide's imputer."""
    row = profile.shopper_row()
    given = {name: row[name] for name in PROFILE_MEASURES} | {"cup_index": row["cup_index"]}
    return guide.body.impute(given, profile.body_type)


def answer(
    guide: Any, profile: Any, garment: Garment, sizes: list[float] | None, cutout: Cutout, cfg: ViewConfig
) -> TryOnAnswer:
    """The try-on response: one view per size with its marks, note and probabilities."""
    from fitting_room.errors import DataError

    try:
        # a garment drawn from a class and seed is no catalog item: the class stands for its category
        category = garment.category or garment.generator_class
        advice = guide.advise(profile, garment.item_id or "", sizes, category=category)
    except DataError as err:  # the guide names the field first ("sizes: ...")
        field, _, message = str(err).partition(": ")
        raise RequestError(field if message else "sizes", message or str(err)) from None
    rows = view_sizes(advice, sizes)
    fits = [SizeFit(r["size"], r["p_small"], r["p_fit"], r["p_large"]) for r in rows]
    expected = advice["expected_size"]
    body = measurements(guide, profile)
    kind = garment.generator_class.lower()
    views = try_on(
        body, cutout, kind, fits, expected if expected == expected else advice["advised_size"], cfg
    )
    return TryOnAnswer(
        item_id=garment.item_id,
        category=garment.category,
        generator_class=garment.generator_class,
        seed=garment.job.seed,
        advised_size=advice["advised_size"],
        expected_size=expected,
        measurements={
            name: round(getattr(body, name), 1)
            for name in ("height_cm", "weight_kg", "bust_cm", "waist_cm", "hips_cm")
        },
        imputed=list(body.imputed),
        disclaimer=DISCLAIMER,
        sizes=[
            TryOnSize(
                size=v.fit.size,
                probabilities=FitProbabilities(small=v.fit.p_small, fit=v.fit.p_fit, large=v.fit.p_large),
                marks=[FitMark(landmark=name, kind=how) for name, how in v.marks],
                note=v.note,
                alt=f"{garment.generator_class} in size {v.fit.size:g} on {FIGURE_ALT}. {v.note}",
                image=base64.b64encode(v.png).decode("ascii"),
            )
            for v in views
        ],
    )


def warm_up_tryon(guide: Any) -> None:
    """Draw one view at start: the first call imports OpenCV, SciPy and scikit-image (~2 s).

    Also asks the guide about one catalog item, which builds its catalog fast path once.
    """
    import numpy as np

    from fitting_room.recommender.guide import ShopperProfile

    if len(guide.index):
        guide.advise(ShopperProfile(), str(guide.index.item_ids[0]))

    image = np.zeros((28, 28), np.uint8)
    image[4:24, 8:20] = 200
    body = guide.body.impute({})
    try_on(body, cut_out(image), "dress", [SizeFit(8.0, 0.1, 0.8, 0.1)], 8.0, ViewConfig())
    product_photo(cut_out(image))
