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

import numpy as np
import pandas as pd

from fitting_room.recommender import features as F
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
        x = F.design_matrix(frame, F.join_stats(frame, advisor.stats), advisor.vocab)
        grid = advisor.grids.for_rows(frame["item_id"].to_numpy(), frame["category"].to_numpy())
        return cls(advisor, x.to_numpy(dtype=np.float64), grid)

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
        names = F.feature_names()
        row = pd.DataFrame([{**shopper, "item_id": "", "category": None, "size": np.nan}])
        own = F.design_matrix(row, F.join_stats(row, self.advisor.stats), self.advisor.vocab)
        x = self.item_design[positions].copy()
        shopper_cols = [names.index(c) for c in F.SHOPPER_FEATURES]
        x[:, shopper_cols] = own.to_numpy(dtype=np.float64)[0, shopper_cols]
        columns = {name: x[:, i] for i, name in enumerate(names)}
        for name, values in F.derived_features(columns).items():
            x[:, names.index(name)] = values
        grid = self.grid[positions]
        a, b = self.advisor.score_design(x, grid, num_threads)
        advised = best_sizes(grid, a, b)
        return three_classes(interpolate_rows(grid, a, advised), interpolate_rows(grid, b, advised)), advised
