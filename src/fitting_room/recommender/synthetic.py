"""Synthetic shoppers with a known fit rule, for fast tests of the whole shopping guide.

The generator follows the shoppers contract (``data/shoppers/validated.parquet`` columns):

- **Bodies** from realistic adult distributions: height ~ N(165, 7) cm, BMI ~ N(24, 3.5)
  (weight = BMI x height^2), bra band from weight, cup index 0-6, age 18-65.
- **Size chart**: US sizes 0, 2, ..., 24; a shopper's *true* size is the chart row whose
  weight band holds her weight (``SIZE_CHART_KG`` wide bands starting at ``CHART_START_KG``).
- **Items** have a category, an occasion they suit and a *cut*: -2 (runs small), 0 or +2
  (runs large) size steps.
- **Transactions**: a shopper usually rents her true size, sometimes one step off.
- **The known fit rule**: ``d = size + cut - true_size``; ``d < 0`` is "small", ``d > 0``
  "large", ``d = 0`` "fit"; a share ``label_noise`` of labels is replaced at random.

So the size advised for a shopper and item should be ``true_size - cut``.

:func:`scale_catalog` grows a built catalog to any size from its own item distribution, for
the catalog-scale retrieval tests and benchmark.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fitting_room.recommender.catalog import CatalogIndex

SIZES = np.arange(0, 26, 2, dtype=float)  # US sizes 0..24
CHART_START_KG = 42.0  # lower weight edge of size 0
SIZE_CHART_KG = 4.5  # weight band per size step
OCCASIONS = ("wedding", "party", "formal affair", "work", "everyday")
CATEGORIES = ("dress", "gown", "top", "pants", "jacket")
BODY_TYPES = ("hourglass", "athletic", "petite", "pear", "straight & narrow")


def true_size(weight_kg: np.ndarray) -> np.ndarray:
    """The size-chart row whose weight band holds each weight (clipped to the chart)."""
    step = np.floor((np.asarray(weight_kg) - CHART_START_KG) / SIZE_CHART_KG)
    return SIZES[np.clip(step, 0, len(SIZES) - 1).astype(int)]


def fit_rule(size: np.ndarray, cut: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The known rule: a garment worn ``d = size + cut - true_size`` steps off is small/fit/large."""
    d = np.asarray(size) + np.asarray(cut) - np.asarray(truth)
    return np.where(d < 0, "small", np.where(d > 0, "large", "fit"))


def make_shoppers(
    n_transactions: int = 4000,
    n_shoppers: int = 800,
    n_items: int = 120,
    label_noise: float = 0.05,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Generate transactions in the shoppers contract plus the hidden truth.

    Returns:
        ``(transactions, shoppers, items)``; ``shoppers`` holds ``user_id`` and ``true_size``,
        ``items`` holds ``item_id``, ``category``, ``occasion`` and ``cut``.
    """
    rng = np.random.default_rng(seed)
    height = rng.normal(165, 7, n_shoppers).clip(140, 200)
    weight = (rng.normal(24, 3.5, n_shoppers).clip(16, 40) * (height / 100) ** 2).clip(38, 140)
    shoppers = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n_shoppers)],
            "height_cm": height.round(1),
            "weight_kg": weight.round(1),
            "bust_band_cm": ((28 + 0.12 * weight + rng.normal(0, 1, n_shoppers)).round() * 2.54).round(1),
            "cup_index": rng.integers(0, 7, n_shoppers).astype(float),
            "age_years": rng.integers(18, 66, n_shoppers).astype(float),
            "body_type": rng.choice(BODY_TYPES, n_shoppers),
            "true_size": true_size(weight),
            "activity": rng.pareto(1.5, n_shoppers) + 1,  # a few shoppers rent a lot
        }
    )
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(n_items)],
            "category": rng.choice(CATEGORIES, n_items, p=[0.45, 0.2, 0.15, 0.1, 0.1]),
            "occasion": rng.choice(OCCASIONS, n_items),
            "cut": rng.choice([-2.0, 0.0, 2.0], n_items, p=[0.25, 0.5, 0.25]),
            "appeal": rng.pareto(1.2, n_items) + 1,  # popularity is long-tailed
        }
    )
    who = rng.choice(
        n_shoppers, n_transactions, p=(shoppers["activity"] / shoppers["activity"].sum()).to_numpy()
    )
    occasion = rng.choice(OCCASIONS, n_transactions)
    # items suited to the occasion are five times as likely
    weights = items["appeal"].to_numpy()[None, :] * np.where(
        items["occasion"].to_numpy()[None, :] == occasion[:, None], 5.0, 1.0
    )
    cum = np.cumsum(weights, axis=1)
    what = (cum < rng.random(n_transactions)[:, None] * cum[:, -1:]).sum(axis=1)
    s, it = shoppers.iloc[who].reset_index(drop=True), items.iloc[what].reset_index(drop=True)
    # a shopper who knows the cut rents true_size - cut; others miss by a step now and then
    size = (s["true_size"] - it["cut"] * (rng.random(n_transactions) < 0.5)).to_numpy()
    size = (size + rng.choice([-2.0, 0.0, 2.0], n_transactions, p=[0.15, 0.7, 0.15])).clip(0, 24)
    fit = fit_rule(size, it["cut"].to_numpy(), s["true_size"].to_numpy())
    noisy = rng.random(n_transactions) < label_noise
    fit[noisy] = rng.choice(["small", "fit", "large"], noisy.sum())
    dates = pd.Timestamp("2016-01-01") + pd.to_timedelta(
        np.sort(rng.integers(0, 730, n_transactions)), unit="D"
    )
    tx = pd.DataFrame(
        {
            "source": "renttherunway",
            "row": np.arange(n_transactions, dtype=np.int64),
            "user_id": s["user_id"].to_numpy(),
            "item_id": it["item_id"].to_numpy(),
            "fit": fit,
            "size": size.astype(float),
            "rating": rng.choice([8.0, 10.0], n_transactions),
            "quality": np.nan,
            "rented_for": occasion,
            "body_type": s["body_type"].to_numpy(),
            "category": it["category"].to_numpy(),
            "height_cm": s["height_cm"].to_numpy(),
            "weight_kg": s["weight_kg"].to_numpy(),
            "age_years": s["age_years"].to_numpy(),
            "bust_band_cm": s["bust_band_cm"].to_numpy(),
            "cup_index": s["cup_index"].to_numpy(),
            "cup_size": None,
            "waist_cm": np.nan,
            "hips_cm": np.nan,
            "bust_cm": np.nan,
            "shoe_size": np.nan,
            "shoe_width": None,
            "length": None,
            "review_date": dates.astype("datetime64[ns]"),
        }
    )
    return tx, shoppers[["user_id", "true_size"]], items[["item_id", "category", "occasion", "cut"]]


def scale_catalog(index: CatalogIndex, n_items: int, jitter: float = 0.3, seed: int = 0) -> CatalogIndex:
    """A catalog of ``n_items`` drawn from the item distribution of ``index`` (a smoothed bootstrap).

    The original items come first, unchanged; each further item copies a random original's
    category, occasion profile and item tower, with Gaussian noise of ``jitter`` times each
    column's standard deviation on the continuous parts (log popularity, log P(item |
    occasion), item tower), so no two items tie. Its kNN neighbours are random copies of the
    original's neighbours, with the original's similarities. Copies get ids ``<id>~<n>``.
    Used to measure retrieval at catalog sizes the public data does not reach.
    """
    n0 = len(index)
    if n_items < n0:
        raise ValueError(f"n_items: must be at least the {n0} items of the seed catalog, got {n_items}")
    rng = np.random.default_rng(seed)
    source = np.concatenate([np.arange(n0), rng.integers(0, n0, n_items - n0)])

    def jittered(values: np.ndarray) -> np.ndarray:  # rows are items
        out = values[source].astype(float)
        out[n0:] += rng.normal(0.0, jitter, out[n0:].shape) * values.std(axis=0)
        return out

    # the k-th copy of original j sits at copies[starts[j] + k]; a neighbour h becomes a random copy of h
    copies = np.argsort(source, kind="stable")
    counts = np.bincount(source, minlength=n0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    neigh = index.neighbours[source]
    valid = neigh >= 0
    h = np.where(valid, neigh, 0)
    picked = copies[starts[h] + (rng.random(h.shape) * counts[h]).astype(np.int64)]
    ids = index.item_ids.astype(str)[source].astype(object)
    ids[n0:] = [f"{i}~{n}" for i, n in zip(ids[n0:], range(n0, n_items), strict=True)]
    return CatalogIndex(
        item_ids=ids.astype(str),
        categories=index.categories[source],
        generator_classes=index.generator_classes[source],
        occasions=list(index.occasions),
        category_vocab=list(index.category_vocab),
        category_codes=index.category_codes[source],
        category_share=index.category_share,
        log_popularity=np.maximum(jittered(index.log_popularity), 0.0),  # log1p of a count
        log_occasion=np.ascontiguousarray(jittered(index.log_occasion.T).T),
        item_body=jittered(index.item_body),
        body_mean=index.body_mean,
        body_std=index.body_std,
        neighbours=np.where(valid, picked, -1).astype(np.int32),
        similarities=index.similarities[source],
    )
