"""The shopping guide behind ``/recommend`` and ``/fit``: the guide's own API, shaped for HTTP.

The models are the shopping-guide engineer's :class:`~fitting_room.recommender.guide.ShoppingGuide`
(advisor + catalog index + preprocessing, loaded once from its model folder); this module only
checks the serving bounds, turns the guide's answers into the response models and keeps a
small cache of item previews, so a popular garment is drawn once, not on every request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fitting_room.serving.schemas import (
    FitAnswer,
    FitProbabilities,
    RecommendedItem,
    SizeAdvice,
)
from fitting_room.serving.studio import RequestError


def load_guide(root: str | Path) -> Any:
    """Load the shopping-guide folder (``guide.json`` found anywhere under ``root``)."""
    from fitting_room.recommender.guide import ShoppingGuide
    from fitting_room.serving.bundle import find_file

    return ShoppingGuide.load(find_file(root, "guide.json").parent)


def check_profile(profile: Any, max_history: int) -> None:
    """Serving bounds the guide's own model does not know about.

    Raises:
        RequestError: naming ``profile.history`` when it is longer than ``max_history``.
    """
    if len(profile.history) > max_history:
        raise RequestError("profile.history", f"{len(profile.history)} items > the limit of {max_history}")


def recommend(guide: Any, profile: Any, k: int) -> tuple[list[dict], bool]:
    """Top-``k`` items for a shopper and whether it was a cold start (no known history).

    Raises:
        RequestError: naming ``k`` when the catalog holds fewer than ``k`` items.
    """
    if k > len(guide.index):
        raise RequestError("k", f"{k} > the {len(guide.index)} items in the catalog")
    cold = len(guide.index.indices(list(profile.history))) == 0
    return guide.recommend(profile, k), cold


def advise(guide: Any, profile: Any, item_id: str, sizes: list[float] | None) -> FitAnswer:
    """Fit probabilities per size of one garment and the advised size (unknown ids: cold start)."""
    from fitting_room.errors import DataError

    try:
        answer = guide.advise(profile, item_id, sizes)
    except DataError as err:  # the guide names the field first ("sizes: ...")
        field, _, message = str(err).partition(": ")
        raise RequestError(field if message else "sizes", message or str(err)) from None
    return FitAnswer(
        item_id=answer["item_id"],
        category=answer["category"] or None,
        advised_size=answer["advised_size"],
        sizes=[SizeAdvice(size=row["size"], probabilities=_probabilities(row)) for row in answer["sizes"]],
    )


def recommended_item(item: dict, preview: str, preview_seed: int) -> RecommendedItem:
    return RecommendedItem(
        item_id=item["item_id"],
        category=item["category"],
        generator_class=item["generator_class"],
        score=item["score"],
        advised_size=item["advised_size"],
        fit=_probabilities(item),
        preview=preview,
        preview_seed=preview_seed,
    )


def _probabilities(row: dict) -> FitProbabilities:
    return FitProbabilities(small=row["p_small"], fit=row["p_fit"], large=row["p_large"])


class PreviewCache:
    """Least-recently-used drawings by item id (base64 PNGs, cut-outs); thread-safe, bounded."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        if self.capacity == 0 or value is None or (isinstance(value, str) and not value):
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
