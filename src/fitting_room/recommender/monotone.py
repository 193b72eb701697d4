"""Size-monotone fit probabilities: the advisor's guarantee as a property of prediction.

"For the same shopper and garment, a larger size never gets a higher P(small) nor a lower
P(large)" holds as a property of prediction. By default the trees are also constrained along
every size feature (``recommender.advisor.monotone_constraints: all``), and whatever the trees
do, the advisor scores a shopper at every size of the garment's *size grid* (a fixed,
per-garment list: its most-rented sizes, else its category's, else the overall ones), projects
the curves onto monotone ones here, and reads any asked size off the projected curves by
linear interpolation (clamped at the grid's ends). Because the grid never depends on the size
asked about, the answer for every size comes from one monotone curve, so the guarantee holds
for any shopper, garment and size, seen or not, and for every ``monotone_constraints`` setting.

Why the projection and not the constraints alone: a constrained tree ensemble is monotone per
size feature, but size enters through several derived features (size minus the item's usual
size, ...) and the interpolation between grid sizes; the projection makes the guarantee not
depend on how those interact. ``relative`` and ``none`` leave some or all size features
unconstrained (in observational data the rented size also says how big the shopper is), and
the projection alone then carries the guarantee; ``docs/shopping_guide.md`` has their measured AUC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SizeGrids:
    """Padded, ascending size grids per item, per category and overall.

    Rows shorter than the widest grid repeat their largest size, which leaves both the
    projection and the interpolation unchanged.
    """

    items: pd.Index  # item ids, aligned with item_grid rows
    item_grid: np.ndarray  # (n_items, G)
    categories: pd.Index
    category_grid: np.ndarray  # (n_categories, G)
    overall: np.ndarray  # (G,)

    @classmethod
    def from_chart(cls, chart: pd.DataFrame) -> SizeGrids:
        """Build from the advisor's size chart (columns key_kind, key, size, count)."""
        overall = np.sort(chart.loc[chart["key_kind"] == "all", "size"].to_numpy(dtype=float))
        if overall.size == 0:
            overall = np.array([np.nan])
        lists = {
            kind: part.groupby("key", sort=True)["size"].agg(lambda s: np.sort(s.to_numpy(dtype=float)))
            for kind, part in chart[chart["key_kind"] != "all"].groupby("key_kind")
        }
        width = max([len(overall), *(len(v) for s in lists.values() for v in s)])

        def pad(values: np.ndarray) -> np.ndarray:
            return np.concatenate([values, np.repeat(values[-1:], width - len(values))])

        def table(kind: str) -> tuple[pd.Index, np.ndarray]:
            series = lists.get(kind, pd.Series(dtype=object))
            rows = [pad(v) for v in series.to_numpy()] or [np.empty(0)]
            return pd.Index(series.index.astype(str)), np.array(rows, dtype=float).reshape(len(series), width)

        items, item_grid = table("item")
        categories, category_grid = table("category")
        return cls(items, item_grid, categories, category_grid, pad(overall))

    def for_rows(self, item_ids: np.ndarray, categories: np.ndarray) -> np.ndarray:
        """(n, G) grid of each row: its item's, else its category's, else the overall one."""
        grid = np.tile(self.overall, (len(item_ids), 1))
        at_cat = self.categories.get_indexer(pd.Index(categories).astype(object))
        grid[at_cat >= 0] = self.category_grid[at_cat[at_cat >= 0]]
        at_item = self.items.get_indexer(pd.Index(item_ids).astype(str))
        grid[at_item >= 0] = self.item_grid[at_item[at_item >= 0]]
        return grid


def project_monotone(values: np.ndarray, increasing: bool) -> np.ndarray:
    """Rows of ``values`` made monotone along axis 1 with as little change as cheaply possible.

    The mean of the running bound from the left and the running bound from the right: both
    are monotone (so is their mean), they bracket the original values, and they coincide with
    it wherever the row already was monotone.
    """
    if increasing:
        left = np.maximum.accumulate(values, axis=1)
        right = np.minimum.accumulate(values[:, ::-1], axis=1)[:, ::-1]
    else:
        left = np.minimum.accumulate(values, axis=1)
        right = np.maximum.accumulate(values[:, ::-1], axis=1)[:, ::-1]
    return (left + right) / 2.0


def interpolate_rows(grid: np.ndarray, values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each row's curve (``grid`` ascending, ``values``) read at its ``sizes``; clamped at the ends."""
    width = grid.shape[1]
    above = (grid <= sizes[:, None]).sum(axis=1)
    hi = np.minimum(above, width - 1)
    lo = np.maximum(above - 1, 0)
    rows = np.arange(len(grid))
    g_lo, g_hi = grid[rows, lo], grid[rows, hi]
    gap = g_hi - g_lo
    t = np.where(gap > 0, (sizes - g_lo) / np.where(gap > 0, gap, 1.0), 0.0)
    return values[rows, lo] + np.clip(t, 0.0, 1.0) * (values[rows, hi] - values[rows, lo])
