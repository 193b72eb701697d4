"""Fit advice for one shopper over many catalog items, fast enough for every request.

The fit-aware re-rank asks the advisor about ~100 candidate items per request. Building the
advisor's design matrix in pandas for each would cost ~100 ms, so the item half of it (item
and category statistics, category code) and every item's size grid are computed once, in
catalog order, when the guide loads. A request then builds the shopper half once, broadcasts
it over the candidates in numpy and scores all candidates x sizes in one LightGBM call, with
exactly the same features, projection and size choice as :meth:`FitAdvisor.advise`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from fitting_room.recommender import features
from fitting_room.recommender.advisor import FitAdvisor, best_sizes, three_classes
from fitting_room.recommender.catalog import CatalogIndex
from fitting_room.recommender.monotone import interpolate_rows


@dataclass(frozen=True)
class CatalogFit:
    """The advisor with the catalog's half of its inputs precomputed."""

    advisor: FitAdvisor
    item_design: np.ndarray  # (n_items, F) design rows of a blank shopper, catalog order
    grid: np.ndarray  # (n_items, G) size grid of each item

    @classmethod
    def build(cls, advisor: FitAdvisor, index: CatalogIndex) -> CatalogFit:
        """Precompute the item half of the design matrix and the size grids for ``index``."""
        frame = pd.DataFrame(
            {
                "item_id": index.item_ids.astype(str),
                "category": pd.Series(index.categories, dtype=object).replace("", None),
                "user_id": "",
                "size": np.nan,
            }
        )
        x = features.design_matrix(frame, features.join_stats(frame, advisor.stats), advisor.vocab)
        grid = advisor.grids.for_rows(frame["item_id"].to_numpy(), frame["category"].to_numpy())
        return cls(advisor, x.to_numpy(dtype=np.float64), grid)

    @cached_property
    def _lookups(self) -> tuple[dict[str, dict[str, int]], dict[str, int], np.ndarray]:
        vocab = {col: {v: i for i, v in enumerate(values)} for col, values in self.advisor.vocab.items()}
        users = self.advisor.stats.users
        position = {u: i for i, u in enumerate(users.index.astype(str))}
        return vocab, position, users[list(features.USER_STATS)].to_numpy(dtype=np.float64)

    def shopper_half(self, shopper: dict) -> np.ndarray:
        """The :data:`features.SHOPPER_FEATURES` columns of one shopper, as
        :func:`features.design_matrix` builds them.

        Plain dict look-ups instead of a one-row pandas frame: this runs on every request.
        """
        vocab, user_pos, user_values = self._lookups
        out = [_number(shopper.get(c)) for c in features.MEASUREMENTS]
        for col in ("body_type", "rented_for"):
            value = shopper.get(col)
            code = vocab[col].get(str(value)) if value is not None else None
            out.append(np.nan if code is None else float(code))
        at = user_pos.get(str(shopper.get("user_id") or ""))
        if at is None:
            stats = np.full(len(features.USER_STATS), np.nan)
            stats[features.USER_STATS.index("user_n")] = 0.0
        else:
            stats = user_values[at]
        return np.concatenate([np.array(out, dtype=np.float64), stats])

    def design(self, shopper: dict, positions: np.ndarray) -> np.ndarray:
        """Design rows of one shopper with catalog items (size columns blank)."""
        names = features.feature_names()
        x = self.item_design[positions].copy()
        x[:, [names.index(c) for c in features.SHOPPER_FEATURES]] = self.shopper_half(shopper)
        columns = {name: x[:, i] for i, name in enumerate(names)}
        for name, values in features.derived_features(columns).items():
            x[:, names.index(name)] = values
        return x

    def item_curves(
        self, shopper: dict, position: int, num_threads: int = 1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """One item's size grid, P(small) and P(large | not small) along it, and the expected size.

        The numpy path of :meth:`ShoppingGuide.advise` for catalog items (``/fit``, ``/try-on``).
        """
        x = self.design(shopper, np.array([position]))
        grid = self.grid[[position]]
        a, b = self.advisor.score_design(x, grid, num_threads)
        return grid[0], a[0], b[0], float(self.advisor.expected_sizes(x, num_threads)[0])

    def advise(
        self, shopper: dict, positions: np.ndarray, num_threads: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advised size and its probabilities for one shopper over catalog items.

        Args:
            shopper: shopper-contract columns (body, ``body_type``, ``rented_for``, ``user_id``).
            positions: catalog positions of the items to advise on.

        Returns:
            ``(proba (m, 3) at the advised size, advised_size (m,))``.
        """
        x = self.design(shopper, positions)
        grid = self.grid[positions]
        a, b = self.advisor.score_design(x, grid, num_threads)
        advised = best_sizes(grid, a, b, self.advisor.expected_sizes(x, num_threads))
        return three_classes(interpolate_rows(grid, a, advised), interpolate_rows(grid, b, advised)), advised


def _number(value: Any) -> float:
    try:
        number = float(value) if value is not None else np.nan
    except (TypeError, ValueError):
        return np.nan
    return number
