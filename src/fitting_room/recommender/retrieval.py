"""Catalog retrieval as an inner product, and the approximate-nearest-neighbour index over it.

The dense part of the retrieval score is ``<shopper vector, item vector>``:

- item vector (:meth:`CatalogIndex.item_vectors`): ``[log popularity | log P(item | occasion)
  per occasion | item tower | category one-hot]``;
- shopper vector (:func:`shopper_vectors`): ``[w_popularity | w_occasion * occasion one-hot |
  w_body * user tower | w_category * log category lift]``.

So the exact scorer and the index rank items by the same number. The sparse history term
(item-kNN similarity to the shopper's past rentals) is not a fixed-length vector; it joins
after retrieval: the neighbours of the shopper's past items enter the candidate set, and
every candidate is rescored exactly (see :func:`fitting_room.recommender.ranker.rank`).

The index is usearch's HNSW over the items' vectors turned into a nearest-neighbour problem:
maximum inner product becomes minimum Euclidean distance after (1) centring the item vectors
(``<u, v - c> = <u, v> - <u, c>``, a per-query constant, so the ranking is unchanged and the
norms shrink) and (2) appending ``sqrt(M^2 - |v|^2)`` to each item and 0 to each query (Bachrach
et al., RecSys 2014): ``|u - v'|^2 = |u|^2 + M^2 - 2 <u, v>``. usearch's own ``ip`` metric on
the raw vectors found almost none of the exact top 100 (recall 0.003 at 50k items, measured
in docs/shopping_guide.md), because HNSW needs a metric in which an item is its own neighbour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fitting_room.config.recommender import RankerConfig
from fitting_room.errors import DataError
from fitting_room.files import atomic_write, atomic_write_json
from fitting_room.recommender.catalog import BODY, CatalogIndex

if TYPE_CHECKING:
    from usearch.index import Index

ANN_FILE = "ann.usearch"  # the HNSW graph and vectors, in usearch's own binary format
ANN_META = "ann.json"


def vector_layout(index: CatalogIndex) -> dict:
    """What each dimension of the retrieval vectors means; a saved index must match it."""
    return {"occasions": list(index.occasions), "body": list(BODY), "categories": list(index.category_vocab)}


def category_lift(index: CatalogIndex, liked: list[int], prior: float) -> np.ndarray:
    """Log lift of each category for a shopper who liked ``liked`` (category codes), vs overall."""
    counts = np.bincount(liked, minlength=len(index.category_vocab)).astype(float)
    share = (counts + prior * index.category_share) / (counts.sum() + prior)
    return np.log(share / index.category_share)


def shopper_vectors(index: CatalogIndex, queries: list, cfg: RankerConfig) -> np.ndarray:
    """(n_queries, dims) shopper vectors: their inner product with item vectors is the dense score.

    Args:
        index: the catalog (vocabularies, body standardisation, history categories).
        queries: :class:`fitting_room.recommender.ranker.Query` objects.
        cfg: the ranker weights.
    """
    n_occ, n_body = len(index.occasions), len(BODY)
    occ_pos = {o: i for i, o in enumerate(index.occasions)}
    cat_pos = {c: i for i, c in enumerate(index.category_vocab)}
    body = np.array([[_num(q.shopper.get(c)) for c in BODY] for q in queries], dtype=float)
    out = np.zeros((len(queries), index.vector_dims))
    out[:, 0] = cfg.w_popularity
    out[:, 1 + n_occ : 1 + n_occ + n_body] = cfg.w_body * index.standardise_body(body.reshape(-1, n_body))
    for row, q in enumerate(queries):
        if q.occasion in occ_pos:
            out[row, 1 + occ_pos[q.occasion]] = cfg.w_occasion
        hist = index.indices(list(q.history))
        liked = [cat_pos[c] for c in q.categories if c in cat_pos]
        liked += [int(c) for c in index.category_codes[hist] if c >= 0]
        if liked:
            out[row, 1 + n_occ + n_body :] = cfg.w_category * category_lift(index, liked, cfg.category_prior)
    return out


def dense_scores(index: CatalogIndex, shopper: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
    """``<shopper vector, item vector>`` of items (every item when ``positions`` is None).

    Computed block by block from the item vector's parts (a scaled row of popularity, of
    each occasion the shopper has, of each body column, and a look-up of the category
    block) instead of materialising the ``(n, dims)`` item matrix: the same sum, about
    ``dims / 10`` times fewer operations, and no multi-threaded BLAS call on the request path
    (under a loaded CPU, OpenBLAS threads made one 5,800-item product take 70 ms, measured).
    """
    at = slice(None) if positions is None else np.asarray(positions, dtype=np.int64)
    n_occ, n_body = len(index.occasions), len(BODY)
    scores = shopper[0] * index.log_popularity[at]
    for k in np.flatnonzero(shopper[1 : 1 + n_occ]):
        scores += shopper[1 + k] * index.log_occasion[k, at]
    body = index.item_body[at]
    for j in np.flatnonzero(shopper[1 + n_occ : 1 + n_occ + n_body]):
        scores += shopper[1 + n_occ + j] * body[:, j]
    lift = shopper[1 + n_occ + n_body :]
    if lift.any():
        codes = index.category_codes[at]
        scores += np.where(codes >= 0, lift[np.maximum(codes, 0)], 0.0)
    return scores


@dataclass(frozen=True)
class AnnIndex:
    """usearch HNSW over a catalog's centred, norm-augmented item vectors (keys = catalog positions)."""

    hnsw: Index  # usearch HNSW
    layout: dict  # vector_layout() of the catalog it was built for

    @classmethod
    def build(cls, index: CatalogIndex, cfg: RankerConfig, threads: int = 0) -> AnnIndex:
        """Index every item of ``index``; ``threads`` = 0 uses every core (fit time only)."""
        from usearch.index import Index

        vectors = index.item_vectors()
        vectors -= vectors.mean(axis=0)  # queries need no shift: it only moves their scores by a constant
        norms = np.linalg.norm(vectors, axis=1)
        lift = np.sqrt(np.maximum(norms.max() ** 2 - norms**2, 0.0))
        augmented = np.hstack([vectors, lift[:, None]]).astype(np.float32)
        del vectors
        hnsw = Index(
            ndim=augmented.shape[1],
            metric="l2sq",
            dtype="f32",  # f16 halved the memory but lost ~0.2 recall@100 (measured, see docs)
            connectivity=cfg.ann_connectivity,
            expansion_add=cfg.ann_expansion_add,
            expansion_search=cfg.ann_expansion_search,
        )
        hnsw.add(np.arange(len(index), dtype=np.uint64), augmented, threads=threads)
        return cls(hnsw, vector_layout(index))

    def __len__(self) -> int:
        return len(self.hnsw)

    @property
    def nbytes(self) -> int:
        """Bytes usearch holds for the graph and vectors."""
        return int(self.hnsw.memory_usage)

    def search(self, shopper_vector: np.ndarray, count: int) -> np.ndarray:
        """Catalog positions of the (approximately) ``count`` highest inner products, best first."""
        query = np.append(shopper_vector, 0.0).astype(np.float32)
        matches = self.hnsw.search(query, min(count, len(self)), threads=1)
        return matches.keys.astype(np.int64)

    def save(self, path: Path) -> Path:
        """Write ``ann.usearch`` (usearch's binary format, no pickle) and ``ann.json``."""
        path = Path(path)
        atomic_write(path / ANN_FILE, lambda tmp: self.hnsw.save(str(tmp)))
        atomic_write_json(path / ANN_META, {"items": len(self), "dims": int(self.hnsw.ndim) - 1,
                                     "layout": self.layout,
                                     "expansion_search": int(self.hnsw.expansion_search)})  # fmt: skip
        return path

    @classmethod
    def load(cls, path: Path, index: CatalogIndex, cfg: RankerConfig) -> AnnIndex:
        """Memory-map a saved index (``view``: pages are shared by every worker of a host).

        Raises:
            DataError: missing files, or an index built for another catalog.
        """
        from usearch.index import Index

        path = Path(path)
        meta_path = path / ANN_META
        if not meta_path.exists() or not (path / ANN_FILE).exists():
            raise DataError(
                f"{path}: catalog of {len(index)} items (>= ranker.ann_min_items = {cfg.ann_min_items}) "
                f"has no ANN index ({ANN_FILE}, {ANN_META}); refit the guide"
            )
        meta = json.loads(meta_path.read_text())
        if meta.get("items") != len(index) or meta.get("layout") != vector_layout(index):
            raise DataError(f"{meta_path}: ANN index built for another catalog; refit the guide")
        hnsw = Index.restore(str(path / ANN_FILE), view=True)
        if hnsw is None or len(hnsw) != len(index) or hnsw.ndim != index.vector_dims + 1:
            raise DataError(f"{path / ANN_FILE}: unreadable or not matching {meta_path}; refit the guide")
        hnsw.expansion_search = cfg.ann_expansion_search  # type: ignore[misc]  # usearch's stub omits the setter
        return cls(hnsw, meta["layout"])


def _num(value: object) -> float:
    try:
        return float(value) if value is not None else np.nan  # type: ignore[arg-type]  # bad values -> NaN
    except (TypeError, ValueError):
        return np.nan
