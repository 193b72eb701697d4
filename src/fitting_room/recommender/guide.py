"""The shopping guide's public API: one object loaded once from a model directory.

>>> guide = ShoppingGuide.load("models/recommender")
>>> profile = ShopperProfile(height_cm=168, weight_kg=61, bust_band_cm=86.4, cup="b", occasion="wedding")
>>> guide.advise(profile, item_id="153475", sizes=[4, 8, 12])
>>> guide.recommend(profile, k=10)

Unknown shopper or item ids take the cold-start path (features only); impossible
measurements fail in :class:`ShopperProfile` with an error naming the field.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fitting_room.config.recommender import RankerConfig
from fitting_room.errors import DataError
from fitting_room.recommender.advisor import FitAdvisor, pick_sizes, three_classes
from fitting_room.recommender.body import BodyModel, fit_body_model
from fitting_room.recommender.catalog import CatalogIndex
from fitting_room.recommender.catalog_fit import CatalogFit
from fitting_room.recommender.monotone import interpolate_rows
from fitting_room.recommender.ranker import Query, rank
from fitting_room.recommender.retrieval import AnnIndex

# "34d"-style cup letters to the contract's cup index (aa=0 ... k=11, "d+" between d and dd)
CUP_INDEX = {"aa": 0, "a": 1, "b": 2, "c": 3, "d": 4, "d+": 4.5, "dd": 5, "dd/e": 5, "e": 5,
             "ddd": 6, "ddd/f": 6, "f": 6, "dddd": 7, "dddd/g": 7, "g": 7,
             "h": 8, "i": 9, "j": 10, "k": 11}  # fmt: skip


class ShopperProfile(BaseModel):
    """A shopper as the service receives them, in SI units, validated against physical bounds.

    Bounds are wider than the validation stage's plausibility ranges: they reject the
    impossible (a 3 m shopper, a negative weight), not the merely unusual.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    height_cm: float | None = Field(None, ge=50, le=250, description="body height, cm")
    weight_kg: float | None = Field(None, ge=20, le=300, description="body weight, kg")
    bust_band_cm: float | None = Field(None, ge=50, le=160, description="bra band, cm (34 in = 86.4 cm)")
    cup: str | None = Field(None, description="bra cup as published: aa, a, b, ..., dd/e, k")
    waist_cm: float | None = Field(None, ge=30, le=200, description="waist, cm")
    hips_cm: float | None = Field(None, ge=40, le=220, description="hips, cm")
    age_years: float | None = Field(None, ge=13, le=110, description="age, years")
    body_type: str | None = Field(None, max_length=40, description="e.g. hourglass, athletic, petite")
    occasion: str | None = Field(None, max_length=40, description='"rented for": wedding, party, work, ...')
    categories: tuple[str, ...] = Field((), max_length=20, description="preferred item categories")
    user_id: str | None = Field(None, max_length=64, description="known shopper id (history), optional")
    history: tuple[str, ...] = Field((), max_length=500, description="item ids rented before")

    @field_validator("cup")
    @classmethod
    def _known_cup(cls, v: str | None) -> str | None:
        if v is not None and v.strip().lower() not in CUP_INDEX:
            raise ValueError(f"unknown cup {v!r} (known: {', '.join(CUP_INDEX)})")
        return None if v is None else v.strip().lower()

    @classmethod
    def parse(cls, data: dict) -> ShopperProfile:
        """Validate raw input, turning pydantic errors into one :class:`DataError` naming fields."""
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise DataError(f"shopper profile: {problems}") from None

    def shopper_row(self) -> dict:
        """The profile in the shoppers-contract columns the models read."""
        return {
            "height_cm": self.height_cm,
            "weight_kg": self.weight_kg,
            "bust_band_cm": self.bust_band_cm,
            "cup_index": CUP_INDEX.get(self.cup) if self.cup else None,
            "waist_cm": self.waist_cm,
            "hips_cm": self.hips_cm,
            "age_years": self.age_years,
            "body_type": self.body_type,
            "rented_for": self.occasion,
            "user_id": self.user_id or "",
        }


class ShoppingGuide:
    """Fit advisor + recommender + preprocessing, loaded once, scored many times.

    Catalogs of ``ranker.ann_min_items`` items or more retrieve through an ANN index: the one
    given (loaded from the guide folder), else one built on first use.
    """

    def __init__(
        self,
        advisor: FitAdvisor,
        index: CatalogIndex,
        ranker: RankerConfig,
        info: dict,
        body: BodyModel | None = None,
        ann: AnnIndex | None = None,
    ):
        self.advisor = advisor
        self.index = index
        self.ranker = ranker
        self.info = info
        # the measurement imputer of the try-on view; a guide saved before it existed gets the
        # priors alone (no data-fit models), see fitting_room.recommender.body
        self.body = body or fit_body_model(pd.DataFrame())
        self._ann = ann

    @cached_property
    def ann(self) -> AnnIndex | None:
        """The ANN index behind retrieval; None below ``ranker.ann_min_items`` (exact scoring)."""
        if len(self.index) < self.ranker.ann_min_items:
            return None
        return self._ann if self._ann is not None else AnnIndex.build(self.index, self.ranker)

    @cached_property
    def catalog_fit(self) -> CatalogFit:
        """The advisor with the catalog half of its inputs precomputed (built on first use)."""
        return CatalogFit.build(self.advisor, self.index)

    @classmethod
    def load(cls, path: str | Path) -> ShoppingGuide:
        """Load what :func:`save_guide` wrote (advisor/, catalog/ with the ANN index if any, body.json,
        guide.json)."""
        path = Path(path)
        meta = path / "guide.json"
        if not meta.exists():
            raise DataError(f"{path}: not a shopping-guide model directory (no guide.json)")
        info = json.loads(meta.read_text())
        index = CatalogIndex.load(path / "catalog")
        ranker = RankerConfig.model_validate(info["ranker"])
        ann = AnnIndex.load(path / "catalog", index, ranker) if len(index) >= ranker.ann_min_items else None
        body = BodyModel.load(path / "body.json") if (path / "body.json").exists() else None
        return cls(FitAdvisor.load(path / "advisor"), index, ranker, info, body=body, ann=ann)

    def advise(
        self,
        profile: ShopperProfile,
        item_id: str,
        sizes: list[float] | None = None,
        category: str | None = None,
    ) -> dict:
        """Fit probabilities per size of one garment and the size with the highest P(fit).

        Ties (P(fit) is often flat along sizes) go to the size nearest the shopper's expected size.

        Args:
            profile: the shopper.
            item_id: any id; an unknown one uses its category's (or the overall) statistics.
            sizes: sizes to score; None = the garment's usual sizes.
            category: the garment's category when ``item_id`` is not in the catalog.

        Returns:
            ``{"item_id", "category", "advised_size", "expected_size", "sizes": [{"size",
            "p_small", "p_fit", "p_large"}, ...]}``; ``expected_size`` is the size shoppers
            like this one who reported "fit" chose (the advisor's expected-size model).
        """
        pos = self.index.position.get(str(item_id))
        category = self.index.categories[pos] if pos is not None else category
        if sizes is None and pos is not None:  # the grid the catalog fast path already holds
            sizes = np.unique(self.catalog_fit.grid[pos]).tolist()
        elif sizes is None:
            sizes = self.advisor.sizes_for(str(item_id), category or None)
        sizes = [float(s) for s in sizes]
        if not sizes or any(not np.isfinite(s) or not 0 <= s <= 60 for s in sizes):
            raise DataError(f"sizes: expected finite sizes within [0, 60], got {sizes}")
        row = profile.shopper_row()
        if pos is not None:  # a catalog item: its half of the design is precomputed (numpy only)
            grid, a, b, expected_size = self.catalog_fit.item_curves(row, pos)
            asked = np.array(sizes)
            curves = np.broadcast_to(grid, (len(sizes), len(grid)))
            p_small = interpolate_rows(curves, np.broadcast_to(a, curves.shape), asked)
            p_large_if = interpolate_rows(curves, np.broadcast_to(b, curves.shape), asked)
            proba, expected = three_classes(p_small, p_large_if), np.array([expected_size])
        else:
            frame = pd.DataFrame(
                [{**row, "item_id": str(item_id), "category": category or None, "size": s} for s in sizes]
            )
            proba = self.advisor.predict_proba(frame, num_threads=1)
            expected = self.advisor.expected_sizes(self.advisor.design(frame.head(1)), num_threads=1)
        advised = pick_sizes(np.array([sizes]), proba[None, :, 1], expected)[0]
        return {
            "item_id": str(item_id),
            "category": category,
            "advised_size": float(advised),
            "expected_size": float(expected[0]),
            "sizes": [
                {"size": s, "p_small": float(p[0]), "p_fit": float(p[1]), "p_large": float(p[2])}
                for s, p in zip(sizes, proba, strict=True)
            ],
        }

    def recommend(self, profile: ShopperProfile, k: int | None = None) -> list[dict]:
        """Top-``k`` catalog items with score, advised size, fit probabilities and generator class."""
        k = k or self.ranker.k
        if not 1 <= k <= len(self.index):
            raise DataError(f"k: must be within [1, {len(self.index)}], got {k}")
        query = Query(
            profile.shopper_row(), profile.occasion, tuple(profile.categories), tuple(profile.history)
        )
        ranking = rank(self.index, [query], self.ranker, k, self.catalog_fit, self.ann)[0]
        return [
            {
                "item_id": str(self.index.item_ids[i]),
                "category": str(self.index.categories[i]) or None,
                "generator_class": str(self.index.generator_classes[i]),
                "score": float(score),
                "advised_size": None if np.isnan(size) else float(size),
                "p_small": float(p[0]),
                "p_fit": float(p[1]),
                "p_large": float(p[2]),
            }
            for i, score, size, p in zip(
                ranking.items, ranking.scores, ranking.advised_size, ranking.proba, strict=True
            )
        ]


def save_guide(
    path: Path,
    advisor: FitAdvisor,
    index: CatalogIndex,
    ranker: RankerConfig,
    info: dict,
    body: BodyModel | None = None,
    ann: AnnIndex | None = None,
) -> Path:
    """Write the whole guide (pickle-free) so :meth:`ShoppingGuide.load` restores it.

    A catalog of ``ranker.ann_min_items`` items or more also gets its ANN index in
    ``catalog/`` (``ann``, or one built here: this runs at fit time).
    """
    from fitting_room.files import atomic_write_json

    advisor.save(path / "advisor")
    index.save(path / "catalog")
    if body is not None:
        body.save(path / "body.json")
    if len(index) >= ranker.ann_min_items:
        (ann if ann is not None else AnnIndex.build(index, ranker)).save(path / "catalog")
    atomic_write_json(path / "guide.json", {**info, "ranker": ranker.model_dump(mode="json")})
    return path
