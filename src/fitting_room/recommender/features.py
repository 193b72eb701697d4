"""Features of the fit advisor: raw measurements, vocabularies and smoothed fit statistics.

Per-item, per-shopper and per-category statistics (fit rates, typical sizes) carry most of the
signal, but computed on the rows they describe they leak the label. Training rows therefore
get *out-of-fold* statistics (from the other folds only), while new rows get statistics from
all training rows: both see what a real request sees, statistics of *other* transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

FIT_LABELS = ("small", "fit", "large")
# the shopper's body, as measured or self-reported (all numeric)
MEASUREMENTS = (
    "height_cm",
    "weight_kg",
    "age_years",
    "bust_band_cm",
    "cup_index",
    "waist_cm",
    "hips_cm",
    "bust_cm",
    "shoe_size",
)
NUMERIC = ("size", *MEASUREMENTS)
CATEGORICAL = ("body_type", "category", "rented_for")
ITEM_STATS = ("item_n", "item_p_small", "item_p_large", "item_mean_size", "item_std_size",
              "item_mean_weight", "item_mean_height", "item_mean_bust_band", "item_fit_mean_size",
              "item_n_sizes")  # fmt: skip
USER_STATS = ("user_n", "user_p_small", "user_p_large", "user_mean_size", "user_mean_rel_size",
              "user_mean_rel_fit")  # fmt: skip
CATEGORY_STATS = ("cat_p_small", "cat_p_large", "cat_mean_size")
# Features that grow with the size asked about, everything else equal: the advisor constrains
# P(small) to fall and P(large) to rise along each of them.
# The size relative to the item, the shopper and the category are computed per size asked
# about (:func:`size_features`); the raw size is a column of its own (in NUMERIC).
RELATIVE_SIZE_FEATURES = ("size_minus_item", "size_z_item", "size_minus_user", "rel_minus_user",
                          "size_minus_category", "size_minus_item_fit", "rel_fit_minus_user")  # fmt: skip
SIZE_FEATURES = ("size", *RELATIVE_SIZE_FEATURES)
# statistics the size-relative features are computed from
SIZE_INPUTS = ("item_mean_size", "item_std_size", "user_mean_size", "user_mean_rel_size", "cat_mean_size",
               "item_fit_mean_size", "user_mean_rel_fit")  # fmt: skip
# columns that describe the shopper (everything else describes the item, its category or size)
SHOPPER_FEATURES = (*MEASUREMENTS, "body_type", "rented_for", *USER_STATS)
DERIVED = ("weight_minus_item", "height_minus_item", "bust_minus_item", "bmi")


def feature_names() -> list[str]:
    """Column order of the advisor's design matrix (saved with the model)."""
    return [
        *NUMERIC,
        *CATEGORICAL,
        *ITEM_STATS,
        *USER_STATS,
        *CATEGORY_STATS,
        *RELATIVE_SIZE_FEATURES,
        *DERIVED,
    ]


def size_free_columns() -> list[int]:
    """Positions in :func:`feature_names` of the columns that do not depend on the size asked about."""
    return [i for i, name in enumerate(feature_names()) if name not in SIZE_FEATURES]


def fit_codes(fit: pd.Series) -> np.ndarray:
    """small/fit/large -> 0/1/2; anything else (missing, unknown) -> -1."""
    mapping = {label: i for i, label in enumerate(FIT_LABELS)}
    return fit.map(mapping).fillna(-1).to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class FitStats:
    """Statistics learned from labelled transactions, joined onto any rows by key."""

    items: pd.DataFrame  # index item_id, columns ITEM_STATS
    users: pd.DataFrame  # index user_id, columns USER_STATS
    categories: pd.DataFrame  # index category, columns CATEGORY_STATS
    p_small: float
    p_large: float


def compute_stats(frame: pd.DataFrame, smoothing: float) -> FitStats:
    """Smoothed fit rates and typical sizes per item, shopper and category.

    Args:
        frame: transactions with ``fit``, ``size``, ``item_id``, ``user_id``, ``category`` and
            the body columns.
        smoothing: pseudo-count of the global rate added to every group (m-estimate).

    Returns:
        The statistics tables; groups of unlabelled rows still get size statistics.
    """
    codes = fit_codes(frame["fit"])
    work = pd.DataFrame(
        {
            "item_id": frame["item_id"].to_numpy(),
            "user_id": frame["user_id"].to_numpy(),
            "category": frame["category"].to_numpy(),
            "size": frame["size"].to_numpy(dtype=float),
            "labelled": (codes >= 0).astype(float),
            "small": (codes == 0).astype(float),
            "large": (codes == 2).astype(float),
            "weight": frame["weight_kg"].to_numpy(dtype=float),
            "height": frame["height_cm"].to_numpy(dtype=float),
            "band": frame["bust_band_cm"].to_numpy(dtype=float),
        }
    )
    work["fit_size"] = work["size"].where(codes == 1)
    labelled = max(work["labelled"].sum(), 1.0)
    p_small = float(work["small"].sum() / labelled)
    p_large = float(work["large"].sum() / labelled)

    def rates(grouped: pd.core.groupby.DataFrameGroupBy, prefix: str) -> pd.DataFrame:
        sums = grouped[["labelled", "small", "large"]].sum()
        return pd.DataFrame(
            {
                f"{prefix}_p_small": (sums["small"] + smoothing * p_small) / (sums["labelled"] + smoothing),
                f"{prefix}_p_large": (sums["large"] + smoothing * p_large) / (sums["labelled"] + smoothing),
            }
        )

    by_item = work.groupby("item_id", sort=False)
    items = rates(by_item, "item")
    items["item_n"] = by_item.size()
    items["item_mean_size"] = by_item["size"].mean()
    items["item_std_size"] = by_item["size"].std(ddof=0)
    items["item_mean_weight"] = by_item["weight"].mean()
    items["item_mean_height"] = by_item["height"].mean()
    items["item_mean_bust_band"] = by_item["band"].mean()
    items["item_fit_mean_size"] = by_item["fit_size"].mean()
    items["item_n_sizes"] = by_item["size"].nunique()

    work["rel"] = work["size"] - work["item_id"].map(items["item_mean_size"])
    work["rel_fit"] = work["size"] - work["item_id"].map(items["item_fit_mean_size"])
    by_user = work.groupby("user_id", sort=False)
    users = rates(by_user, "user")
    users["user_n"] = by_user.size()
    users["user_mean_size"] = by_user["size"].mean()
    users["user_mean_rel_size"] = by_user["rel"].mean()
    users["user_mean_rel_fit"] = by_user["rel_fit"].mean()

    by_cat = work.dropna(subset=["category"]).groupby("category", sort=False)
    categories = rates(by_cat, "cat")
    categories["cat_mean_size"] = by_cat["size"].mean()
    return FitStats(
        items=items[list(ITEM_STATS)].astype(float),
        users=users[list(USER_STATS)].astype(float),
        categories=categories[list(CATEGORY_STATS)].astype(float),
        p_small=p_small,
        p_large=p_large,
    )


def with_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the key columns the statistics join on; absent keys are unknown ("")."""
    missing = [k for k in ("item_id", "user_id", "category") if k not in frame]
    return frame.assign(**{k: "" for k in missing}) if missing else frame


def join_stats(frame: pd.DataFrame, stats: FitStats) -> pd.DataFrame:
    """Statistics columns for each row of ``frame`` (NaN where the key was never seen)."""
    frame = with_keys(frame)
    items = stats.items.reindex(frame["item_id"].to_numpy())
    users = stats.users.reindex(frame["user_id"].to_numpy())
    cats = stats.categories.reindex(frame["category"].to_numpy())
    out = pd.concat(
        [items.reset_index(drop=True), users.reset_index(drop=True), cats.reset_index(drop=True)], axis=1
    )
    out["item_n"] = out["item_n"].fillna(0.0)
    out["user_n"] = out["user_n"].fillna(0.0)
    out.index = frame.index
    return out


def out_of_fold_stats(frame: pd.DataFrame, n_folds: int, smoothing: float, seed: int) -> pd.DataFrame:
    """Statistics for each training row computed from the other folds only (no label leakage)."""
    folds = np.random.default_rng(seed).integers(0, n_folds, size=len(frame))
    parts = []
    for k in range(n_folds):
        stats = compute_stats(frame[folds != k], smoothing)
        parts.append(join_stats(frame[folds == k], stats))
    return pd.concat(parts).loc[frame.index]


def build_vocab(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Sorted values of each categorical column (its position is its code)."""
    return {col: sorted(frame[col].dropna().astype(str).unique().tolist()) for col in CATEGORICAL}


def size_features(size: np.ndarray, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The size-relative features (:data:`RELATIVE_SIZE_FEATURES`) for given sizes.

    Kept apart from :func:`design_matrix` so the advisor can re-score one design row at many
    sizes by changing only these columns (the size grid of a garment), in plain numpy.

    Args:
        size: (n,) sizes asked about.
        columns: the statistics columns of the same rows, by name (frame or dict of arrays).
    """
    item_minus = size - np.asarray(columns["item_mean_size"])
    fit_minus = size - np.asarray(columns["item_fit_mean_size"])
    std = np.maximum(np.nan_to_num(np.asarray(columns["item_std_size"]), nan=1.0), 1.0)
    return {
        "size_minus_item": item_minus,
        "size_z_item": item_minus / std,
        "size_minus_user": size - np.asarray(columns["user_mean_size"]),
        "rel_minus_user": item_minus - np.asarray(columns["user_mean_rel_size"]),
        "size_minus_category": size - np.asarray(columns["cat_mean_size"]),
        # the shopper's latent "true size" for this garment: where renters who reported "fit"
        # sit, shifted by how this shopper usually sits relative to them
        "size_minus_item_fit": fit_minus,
        "rel_fit_minus_user": fit_minus - np.asarray(columns["user_mean_rel_fit"]),
    }


def derived_features(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Shopper-vs-item body differences (:data:`DERIVED`) from raw and statistics columns."""
    weight, height = np.asarray(columns["weight_kg"]), np.asarray(columns["height_cm"])
    return {
        "weight_minus_item": weight - np.asarray(columns["item_mean_weight"]),
        "height_minus_item": height - np.asarray(columns["item_mean_height"]),
        "bust_minus_item": np.asarray(columns["bust_band_cm"]) - np.asarray(columns["item_mean_bust_band"]),
        "bmi": weight / (height / 100.0) ** 2,
    }


def design_matrix(
    frame: pd.DataFrame, stats_columns: pd.DataFrame, vocab: dict[str, list[str]]
) -> pd.DataFrame:
    """The advisor's input: raw columns, encoded categoricals, statistics and size-relative terms.

    Args:
        frame: rows with the shopper-contract columns (missing ones are treated as unknown).
        stats_columns: :func:`join_stats` or :func:`out_of_fold_stats` output for the same rows.
        vocab: categorical vocabularies; unseen values become missing (the cold-start path).

    Returns:
        A float frame with the columns of :func:`feature_names`, in that order.
    """
    x = pd.DataFrame(index=frame.index)
    for col in NUMERIC:
        x[col] = pd.to_numeric(frame[col], errors="coerce").astype(float) if col in frame else np.nan
    for col in CATEGORICAL:
        values = frame[col] if col in frame else pd.Series(None, index=frame.index, dtype=object)
        codes = pd.Categorical(values.astype(object), categories=vocab[col]).codes.astype(float)
        x[col] = np.where(codes < 0, np.nan, codes)
    for col in stats_columns.columns:
        x[col] = stats_columns[col].to_numpy(dtype=float)
    for name, values in size_features(x["size"].to_numpy(), x).items():
        x[name] = values
    for name, values in derived_features(x).items():
        x[name] = values
    return x[feature_names()]
