"""The item index behind the recommender: per-item arrays precomputed once from transactions.

Everything the ranker needs about the catalog is a dense numpy array aligned to one item order,
so scoring a shopper over the whole catalog is a handful of vector operations:

- the **item tower**: the mean standardised body of each item's renters, shrunk towards the
  average shopper (an item nobody rented yet has the neutral profile 0);
- time-decayed popularity overall and per occasion ("rented for");
- category codes (and each category's generator class, for previews);
- an item-item kNN similarity (cosine over co-renting shoppers) for shoppers with history.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitting_room.config.recommender import RankerConfig
from fitting_room.errors import DataError
from fitting_room.files import atomic_write_json
from fitting_room.recommender.storage import read_arrays, write_arrays

BODY = ("height_cm", "weight_kg", "bust_band_cm", "cup_index", "age_years", "waist_cm", "hips_cm")


@dataclass(frozen=True)
class CatalogIndex:
    item_ids: np.ndarray  # (n,) str
    categories: np.ndarray  # (n,) str, "" when unknown
    generator_classes: np.ndarray  # (n,) str: Fashion-MNIST class shown as a preview
    occasions: list[str]  # vocabulary of "rented for"
    category_vocab: list[str]
    category_codes: np.ndarray  # (n,) int, -1 when unknown
    category_share: np.ndarray  # (n_categories,) share of rentals per category
    log_popularity: np.ndarray  # (n,) log of time-decayed rentals (+1)
    log_occasion: np.ndarray  # (n_occasions, n) log P(item | occasion), smoothed with overall
    item_body: np.ndarray  # (n, d) shrunk mean standardised renter body (item tower)
    body_mean: np.ndarray  # (d,) standardisation of body features (user tower)
    body_std: np.ndarray  # (d,)
    neighbours: np.ndarray  # (n, k) int32 item indices, -1 padded
    similarities: np.ndarray  # (n, k) float32 cosine similarities
    position: dict[str, int] = field(default_factory=dict, compare=False)  # item_id -> index

    def __post_init__(self) -> None:
        if not self.position:
            self.position.update({item: i for i, item in enumerate(self.item_ids.tolist())})

    def __len__(self) -> int:
        return len(self.item_ids)

    def indices(self, item_ids: list[str]) -> np.ndarray:
        """Positions of known items; unknown ids are dropped (the cold-start path)."""
        return np.array([self.position[i] for i in item_ids if i in self.position], dtype=np.int64)

    @property
    def vector_dims(self) -> int:
        """Length of an item (and shopper) retrieval vector, see :meth:`item_vectors`."""
        return 1 + len(self.occasions) + len(BODY) + len(self.category_vocab)

    def item_vectors(self, positions: np.ndarray | None = None) -> np.ndarray:
        """Retrieval vectors of items (all of them when ``positions`` is None), float64.

        Layout ``[log popularity | log P(item | occasion) per occasion | item tower | category
        one-hot]``: the dense retrieval score is the inner product of this with the shopper
        vector of :func:`fitting_room.recommender.retrieval.shopper_vectors`, whose blocks
        carry the weights, the occasion one-hot, the user tower and the category lift.
        The ANN index is built from these; requests score through
        :func:`~fitting_room.recommender.retrieval.dense_scores`, the same sum by blocks.
        """
        at = np.arange(len(self)) if positions is None else np.asarray(positions, dtype=np.int64)
        codes = self.category_codes[at]
        one_hot = np.zeros((len(at), len(self.category_vocab)))
        known = codes >= 0
        one_hot[np.flatnonzero(known), codes[known]] = 1.0
        return np.hstack(
            [self.log_popularity[at, None], self.log_occasion[:, at].T, self.item_body[at], one_hot]
        )

    def standardise_body(self, body: np.ndarray) -> np.ndarray:
        """User tower: z-scores of body features, missing -> 0 (the average shopper)."""
        z = (np.asarray(body, dtype=float) - self.body_mean) / self.body_std
        return np.nan_to_num(z, nan=0.0)

    def save(self, path: Path) -> Path:
        arrays = {k: getattr(self, k) for k in ARRAY_FIELDS}
        arrays["item_ids"] = arrays["item_ids"].astype(str)
        arrays["categories"] = arrays["categories"].astype(str)
        arrays["generator_classes"] = arrays["generator_classes"].astype(str)
        write_arrays(path / "catalog.npz", **arrays)
        vocab = {"occasions": self.occasions, "category_vocab": self.category_vocab}
        atomic_write_json(path / "catalog.json", {**vocab, "body_features": list(BODY)})
        return path

    @classmethod
    def load(cls, path: Path) -> CatalogIndex:
        meta_path = path / "catalog.json"
        if not meta_path.exists():
            raise DataError(f"{path}: not a catalog index (no catalog.json)")
        meta = json.loads(meta_path.read_text())
        if meta["body_features"] != list(BODY):
            raise DataError(f"{meta_path}: body features differ from this code's; rebuild the index")
        arrays: dict[str, Any] = read_arrays(path / "catalog.npz")
        return cls(occasions=meta["occasions"], category_vocab=meta["category_vocab"], **arrays)


ARRAY_FIELDS = ("item_ids", "categories", "generator_classes", "category_codes", "category_share",
                "log_popularity", "log_occasion", "item_body", "body_mean", "body_std", "neighbours",
                "similarities")  # fmt: skip


def build_catalog(
    frame: pd.DataFrame, cfg: RankerConfig, category_classes: dict[str, str], default_class: str
) -> CatalogIndex:
    """Precompute the item index from transactions (the training part only, in evaluation).

    Args:
        frame: transactions with ``item_id``, ``user_id``, ``category``, ``rented_for``,
            ``review_date`` and the body columns.
        cfg: ranker knobs (recency half-life, smoothing, neighbours).
        category_classes: category -> generator class; others get ``default_class``.

    Returns:
        The index over every item that appears in ``frame``.
    """
    if frame.empty:
        raise DataError("transactions: no rows to build the catalog index from")
    items = pd.Index(sorted(frame["item_id"].astype(str).unique()))
    pos = items.get_indexer(frame["item_id"].astype(str))
    n = len(items)
    weight = recency_weights(frame, cfg.recency_half_life_days)
    decayed = np.bincount(pos, weights=weight, minlength=n)
    occasions, log_occasion = occasion_popularity(frame, pos, weight, decayed, cfg.occasion_prior)
    item_body, mean, std = body_towers(frame, pos, n, cfg.body_shrinkage)
    categories, category_vocab, category_codes, category_share = item_categories(frame, pos, n)
    classes = np.array([category_classes.get(c.lower(), default_class) for c in categories], dtype=str)
    neighbours, similarities = item_knn(frame["user_id"].astype(str).to_numpy(), pos, n, cfg.knn_neighbours)
    return CatalogIndex(
        item_ids=items.to_numpy(dtype=str),
        categories=categories,
        generator_classes=classes,
        occasions=occasions,
        category_vocab=category_vocab,
        category_codes=category_codes,
        category_share=category_share,
        log_popularity=np.log1p(decayed),
        log_occasion=log_occasion,
        item_body=item_body,
        body_mean=mean,
        body_std=std,
        neighbours=neighbours,
        similarities=similarities,
    )


def recency_weights(frame: pd.DataFrame, half_life_days: float) -> np.ndarray:
    """Weight of each transaction, halving every ``half_life_days`` before the latest review."""
    dates = pd.to_datetime(frame["review_date"]) if "review_date" in frame else None
    if dates is not None and dates.notna().any():
        age_days = (dates.max() - dates).dt.days.fillna(3650).to_numpy()  # undated rentals count as old
    else:
        age_days = np.zeros(len(frame))
    return 0.5 ** (age_days / half_life_days)


def occasion_popularity(
    frame: pd.DataFrame, pos: np.ndarray, weight: np.ndarray, decayed: np.ndarray, prior: float
) -> tuple[list[str], np.ndarray]:
    """Occasion vocabulary and ``(n_occasions, n)`` log P(item | occasion), smoothed with overall."""
    n = len(decayed)
    overall = (decayed + 1e-3) / (decayed + 1e-3).sum()
    occasions = sorted(frame["rented_for"].dropna().astype(str).unique().tolist())
    occ_codes = pd.Categorical(frame["rented_for"], categories=occasions).codes
    log_occasion = np.zeros((len(occasions), n))
    for k in range(len(occasions)):
        counts = np.bincount(pos[occ_codes == k], weights=weight[occ_codes == k], minlength=n)
        log_occasion[k] = np.log((counts + prior * overall) / (counts.sum() + prior))
    return occasions, log_occasion


def body_towers(
    frame: pd.DataFrame, pos: np.ndarray, n: int, shrinkage: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item tower (mean standardised renter body, shrunk to 0) and the user tower's mean and std."""
    body = body_matrix(frame)
    with warnings.catch_warnings():  # a body column missing in every row (hips in RTR) is fine
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, std = np.nanmean(body, axis=0), np.nanstd(body, axis=0)
    mean, std = np.nan_to_num(mean), np.where(np.isnan(std) | (std < 1e-9), 1.0, std)
    z = (body - mean) / std
    known = ~np.isnan(z)
    sums = np.zeros((n, len(BODY)))
    body_counts = np.zeros((n, len(BODY)))
    np.add.at(sums, pos, np.where(known, z, 0.0))
    np.add.at(body_counts, pos, known.astype(float))
    return sums / (body_counts + shrinkage), mean, std


def item_categories(
    frame: pd.DataFrame, pos: np.ndarray, n: int
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Each item's first known category, the vocabulary, codes (-1 unknown) and rental shares."""
    first_cat = frame.groupby(pos)["category"].agg(lambda s: s.dropna().iloc[0] if s.notna().any() else "")
    categories = first_cat.reindex(range(n)).fillna("").astype(str).to_numpy()
    category_vocab = sorted({c for c in categories if c})
    category_codes = pd.Categorical(categories, categories=category_vocab).codes.astype(np.int64)
    cat_counts = np.bincount(category_codes[pos][category_codes[pos] >= 0], minlength=len(category_vocab))
    category_share = (cat_counts + 1.0) / (cat_counts.sum() + len(category_vocab))
    return categories, category_vocab, category_codes, category_share


def item_knn(users: np.ndarray, pos: np.ndarray, n_items: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine neighbours of each item over the binary shopper x item matrix."""
    from scipy import sparse

    user_codes = pd.factorize(users)[0]
    matrix = sparse.csr_matrix(
        (np.ones(len(pos), dtype=np.float32), (user_codes, pos)), shape=(user_codes.max() + 1, n_items)
    )
    matrix.data[:] = 1.0  # several rentals of one item by one shopper count once
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    norms = np.sqrt(np.asarray(matrix.sum(axis=0)).ravel())
    co = (matrix.T @ matrix).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    # int32/float32 halve the largest arrays of a big catalog (800 -> 400 MB at 1M items, k=50)
    neighbours = np.full((n_items, k), -1, dtype=np.int32)
    similarities = np.zeros((n_items, k), dtype=np.float32)
    for i in range(n_items):
        start, end = co.indptr[i], co.indptr[i + 1]
        if start == end:
            continue
        cols, vals = co.indices[start:end], co.data[start:end] / (norms[i] * norms[co.indices[start:end]])
        top = np.argsort(-vals, kind="stable")[:k]
        neighbours[i, : len(top)] = cols[top]
        similarities[i, : len(top)] = vals[top]
    return neighbours, similarities


def body_matrix(frame: pd.DataFrame) -> np.ndarray:
    """(n, d) body features of rows in :data:`BODY` order; absent columns are missing."""
    missing = np.full(len(frame), np.nan)
    columns = [pd.to_numeric(frame[c], errors="coerce") if c in frame else missing for c in BODY]
    return np.column_stack(columns).astype(float)
