"""The measurement imputer: a complete body from whatever measurements a shopper gave.

Fit in the recommender stage on the same training transactions as the guide and saved inside
the guide's folder (``body.json``), so the try-on view completes a body exactly as training
did. Each missing value is filled in a fixed order, each from the ones before it, by a linear
least-squares model fit on the training rows that have that column:

    height <- weight;  weight <- height;  bra band <- height, weight;  cup <- height, weight, band;
    bust <- band, cup, weight, height;  waist, hips <- height, weight, band, cup, age

RentTheRunway publishes no bust, waist or hip circumferences (ModCloth does), so when the
training data has fewer than ``min_rows`` of a column the documented prior stands in
(``PRIORS``; docs/tryon.md gives the sources). A body type the shopper names then shapes the
*imputed* circumferences only (a pear's hips are fuller than her bust implies); values the
shopper gave are never changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fitting_room.errors import DataError
from fitting_room.tryon.figure import Measurements

FORMAT = 1
BASE = ("height_cm", "weight_kg", "bust_band_cm", "cup_index", "age_years")
FEATURES = {
    "height_cm": ("weight_kg",),
    "weight_kg": ("height_cm",),
    "bust_band_cm": ("height_cm", "weight_kg"),
    "cup_index": ("height_cm", "weight_kg", "bust_band_cm"),
    "bust_cm": ("bust_band_cm", "cup_index", "weight_kg", "height_cm"),
    "waist_cm": ("height_cm", "weight_kg", "bust_band_cm", "cup_index", "age_years"),
    "hips_cm": ("height_cm", "weight_kg", "bust_band_cm", "cup_index", "age_years"),
}
# Priors for circumferences the data lacks: US bra sizing (bust = band + 1 in per cup step) and
# the drops of US misses body-measurement tables (ASTM D5585), rounded
PRIORS = {"bust_cm": "band + 2.54 * cup", "waist_cm": "0.78 * bust", "hips_cm": "1.06 * bust"}
# Prior shape of RentTheRunway's body types, applied to imputed circumferences only
BODY_TYPE_FACTORS = {
    "pear": {"hips_cm": 1.07, "bust_cm": 0.97},
    "full bust": {"bust_cm": 1.12, "hips_cm": 0.96},
    "straight & narrow": {"waist_cm": 1.12, "hips_cm": 0.97},
    "hourglass": {"waist_cm": 0.95},
    "apple": {"waist_cm": 1.14, "hips_cm": 0.99},
    "athletic": {"waist_cm": 1.03, "hips_cm": 0.98},
    "petite": {},
}
BOUNDS = {"height_cm": (50, 250), "weight_kg": (20, 300), "bust_band_cm": (50, 160),
          "cup_index": (0, 11), "bust_cm": (50, 200), "waist_cm": (30, 200), "hips_cm": (40, 220),
          "age_years": (13, 110)}  # fmt: skip


@dataclass(frozen=True)
class Linear:
    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    rows: int

    def predict(self, values: dict[str, float]) -> float:
        return self.intercept + sum(c * values[f] for f, c in zip(self.features, self.coef, strict=True))


@dataclass(frozen=True)
class BodyModel:
    """Medians and linear models learned from training rows (None: the prior is used)."""

    medians: dict[str, float]
    models: dict[str, Linear | None]

    def impute(self, given: dict[str, float | None], body_type: str | None = None) -> Measurements:
        """A complete body; values in ``given`` (SI, shoppers-contract names) are kept as they are.

        Args:
            given: any of ``height_cm, weight_kg, bust_band_cm, cup_index, bust_cm, waist_cm,
                hips_cm, age_years``; None or absent = unknown.
            body_type: one of RentTheRunway's seven (others are ignored).
        """
        v = {k: float(x) for k, x in given.items() if x is not None and np.isfinite(x)}
        imputed = []
        if "age_years" not in v:
            v["age_years"] = self.medians["age_years"]
        for target, features in FEATURES.items():
            if target in v:
                continue
            model = self.models.get(target)
            if model is not None and all(f in v for f in features):
                value = model.predict(v)
            elif target in PRIORS:
                value = self._prior(target, v)
            else:
                value = self.medians[target]
            low, high = BOUNDS[target]
            v[target] = float(np.clip(value, low, high))
            imputed.append(target)
        for target, factor in BODY_TYPE_FACTORS.get((body_type or "").strip().lower(), {}).items():
            if target in imputed:
                v[target] = float(np.clip(v[target] * factor, *BOUNDS[target]))
        return Measurements(
            height_cm=v["height_cm"],
            weight_kg=v["weight_kg"],
            bust_cm=v["bust_cm"],
            waist_cm=v["waist_cm"],
            hips_cm=v["hips_cm"],
            body_type=(body_type or "").strip().lower() or None,
            imputed=tuple(
                t for t in imputed if t in ("height_cm", "weight_kg", "bust_cm", "waist_cm", "hips_cm")
            ),
        )

    @staticmethod
    def _prior(target: str, v: dict[str, float]) -> float:
        if target == "bust_cm":
            return v["bust_band_cm"] + 2.54 * v["cup_index"]
        return {"waist_cm": 0.78, "hips_cm": 1.06}[target] * v["bust_cm"]

    def save(self, path: Path) -> Path:
        from fitting_room.files import atomic_write_json

        models = {k: None if m is None else {**m.__dict__, "features": list(m.features), "coef": list(m.coef)}
                  for k, m in self.models.items()}  # fmt: skip
        meta = {"format": FORMAT, "medians": self.medians, "models": models, "priors": PRIORS}
        return atomic_write_json(path, {**meta, "body_type_factors": BODY_TYPE_FACTORS})

    @classmethod
    def load(cls, path: Path) -> BodyModel:
        if not path.exists():
            raise DataError(f"{path}: no body model (retrain the shopping guide)")
        meta = json.loads(path.read_text())
        if meta.get("format") != FORMAT:
            raise DataError(f"{path}: body model format {meta.get('format')!r}, expected {FORMAT}; retrain")
        models = {
            k: None
            if m is None
            else Linear(tuple(m["features"]), tuple(m["coef"]), m["intercept"], m["rows"])
            for k, m in meta["models"].items()
        }
        return cls({k: float(x) for k, x in meta["medians"].items()}, models)


def fit_body_model(frame: pd.DataFrame, min_rows: int = 100) -> BodyModel:
    """Learn medians and the imputation models from training transactions (one row per shopper).

    Args:
        frame: rows in the shoppers contract (absent columns count as all missing).
        min_rows: fewest complete rows a linear model is fit on; fewer -> prior / median.
    """
    if "user_id" in frame:
        frame = frame.drop_duplicates("user_id")
    columns = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(float) if c in frame else
               np.full(len(frame), np.nan) for c in {*BASE, *FEATURES}}  # fmt: skip
    defaults = {
        "height_cm": 165.0,
        "weight_kg": 62.0,
        "bust_band_cm": 86.4,
        "cup_index": 2.0,
        "age_years": 33.0,
    }
    medians = {
        c: float(np.nanmedian(columns[c])) if np.isfinite(columns[c]).any() else defaults[c] for c in BASE
    }
    models: dict[str, Linear | None] = {}
    for target, features in FEATURES.items():
        x = np.column_stack([columns[f] for f in features])
        y = columns[target]
        ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
        if ok.sum() < max(min_rows, len(features) + 2):
            models[target] = None
            continue
        design = np.column_stack([x[ok], np.ones(ok.sum())])
        solution = np.linalg.lstsq(design, y[ok], rcond=None)[0]
        models[target] = Linear(
            features, tuple(map(float, solution[:-1])), float(solution[-1]), int(ok.sum())
        )
    return BodyModel(medians, models)
