"""The fit and size advisor: P(small), P(fit), P(large) for (shopper, item, size), and a size.

Fit is ordinal (small < fit < large), so the advisor is a continuation-ratio model of two
LightGBM binary classifiers: ``a(x) = P(small)`` and ``b(x) = P(large | not small)``, giving
``P(fit) = (1 - a)(1 - b)`` and ``P(large) = (1 - a) b``. The three always sum to one, and
because ``a`` is constrained to fall and ``b`` to rise along every size-derived feature
(LightGBM monotone constraints), a larger size of the same garment never gets a higher
P(small) nor a lower P(large).

Why the constraints matter: in observational data shoppers *choose* their size, so a large
rented size mostly signals a large body, and an unconstrained model learns that larger sizes
are reported "small" more often (measured on RentTheRunway: +0.02 AUC, but advice pointing the
wrong way). The constraints keep the causal direction; body size is left to the measurement
and shopper-history features.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitting_room.config.recommender import AdvisorConfig
from fitting_room.errors import DataError
from fitting_room.files import atomic_write_json, atomic_write_text
from fitting_room.recommender import features
from fitting_room.recommender.monotone import SizeGrids, interpolate_rows, project_monotone
from fitting_room.recommender.storage import read_frame, write_frame


@dataclass(frozen=True)
class FitAdvisor:
    """A trained advisor with everything needed to score raw rows (stats, vocab, size chart)."""

    small_model: Any  # lightgbm.Booster for P(small)
    large_model: Any  # lightgbm.Booster for P(large | not small)
    size_model: Any  # lightgbm.Booster: size rented by shoppers who reported "fit" (no size input)
    stats: features.FitStats
    vocab: dict[str, list[str]]
    size_chart: pd.DataFrame  # columns key_kind (item|category|all), key, size, count
    max_sizes: int
    smoothing: float  # pseudo-count the statistics were computed with (to recompute them)

    @cached_property
    def grids(self) -> SizeGrids:
        """Per-garment size grids, built once from the size chart."""
        return SizeGrids.from_chart(self.size_chart)

    def sizes_for(self, item_id: str, category: str | None) -> list[float]:
        """The sizes advice chooses among for one garment (its grid, ascending)."""
        grid = self.grids.for_rows(np.array([str(item_id)]), np.array([category], dtype=object))[0]
        return np.unique(grid[np.isfinite(grid)]).tolist()

    def score_grid(
        self, frame: pd.DataFrame, num_threads: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Monotone-projected probabilities of every row at every size of its garment's grid.

        The design matrix is built once per row; only the size columns change along the grid,
        and each distinct grid size is scored once.

        Returns:
            ``(grid (n, G), p_small (n, G) non-increasing, p_large_if_not_small (n, G)
            non-decreasing, expected size (n,))``.
        """
        frame = features.with_keys(frame).reset_index(drop=True)
        x = self.design(frame)
        grid = self.grids.for_rows(frame["item_id"].to_numpy(), frame["category"].to_numpy())
        return grid, *self.score_design(x, grid, num_threads), self.expected_sizes(x, num_threads)

    def design(self, frame: pd.DataFrame) -> np.ndarray:
        """The design matrix (:func:`features.design_matrix`, statistics joined) of raw rows, as floats."""
        frame = features.with_keys(frame)
        return features.design_matrix(frame, features.join_stats(frame, self.stats), self.vocab).to_numpy(
            dtype=np.float64
        )

    def expected_sizes(self, x: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """The size shoppers like each design row's (who reported "fit") rented; ignores the size columns."""
        return self.size_model.predict(x[:, features.size_free_columns()], num_threads=num_threads)

    def score_design(
        self, x: np.ndarray, grid: np.ndarray, num_threads: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`score_grid` from ready design rows ``x`` (n, F) and their grids (n, G)."""
        first = np.ones(grid.shape, dtype=bool)
        first[:, 1:] = grid[:, 1:] != grid[:, :-1]
        rows, cols = np.nonzero(first)
        a_raw, b_raw = self._raw(expand_sizes(x, rows, grid[rows, cols]), num_threads)
        a, b = np.empty(grid.shape), np.empty(grid.shape)
        a[rows, cols], b[rows, cols] = a_raw, b_raw
        # padded repeats of the largest size take its scores
        last = np.maximum.accumulate(np.where(first, np.arange(grid.shape[1]), 0), axis=1)
        a, b = np.take_along_axis(a, last, axis=1), np.take_along_axis(b, last, axis=1)
        return project_monotone(a, increasing=False), project_monotone(b, increasing=True)

    def _raw(self, values: np.ndarray, num_threads: int) -> tuple[np.ndarray, np.ndarray]:
        a = self.small_model.predict(values, num_threads=num_threads)
        b = self.large_model.predict(values, num_threads=num_threads)
        return a, b

    def advise(self, frame: pd.DataFrame, num_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities at each row's own size, and the size of its grid with the highest P(fit).

        Args:
            frame: rows with shopper columns, ``item_id``, ``category`` and ``size`` (may be NaN
                or absent).

        Returns:
            ``(proba (n, 3), advised_size (n,))``; a row without a size gets the probabilities
            of its advised size.
        """
        grid, a, b, expected = self.score_grid(frame, num_threads)
        advised = best_sizes(grid, a, b, expected)
        size = pd.to_numeric(frame["size"], errors="coerce").to_numpy(float) if "size" in frame else None
        asked = advised if size is None else np.where(np.isnan(size), advised, size)
        return three_classes(interpolate_rows(grid, a, asked), interpolate_rows(grid, b, asked)), advised

    def predict_proba(self, frame: pd.DataFrame, num_threads: int = 0) -> np.ndarray:
        """(n, 3) probabilities of small, fit, large for raw transaction-like rows."""
        return self.advise(frame, num_threads)[0]

    def save(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path / "small.lgb.txt", self.small_model.model_to_string())
        atomic_write_text(path / "large.lgb.txt", self.large_model.model_to_string())
        atomic_write_text(path / "size.lgb.txt", self.size_model.model_to_string())
        write_frame(path / "item_stats.parquet", self.stats.items)
        write_frame(path / "user_stats.parquet", self.stats.users)
        write_frame(path / "category_stats.parquet", self.stats.categories)
        write_frame(path / "size_chart.parquet", self.size_chart)
        meta = {
            "p_small": self.stats.p_small,
            "p_large": self.stats.p_large,
            "vocab": self.vocab,
            "features": features.feature_names(),
            "labels": list(features.FIT_LABELS),
            "max_sizes": self.max_sizes,
            "smoothing": self.smoothing,
        }
        atomic_write_json(path / "advisor.json", meta)
        return path

    @classmethod
    def load(cls, path: Path) -> FitAdvisor:
        import lightgbm as lgb

        meta_path = path / "advisor.json"
        if not meta_path.exists():
            raise DataError(f"{path}: not an advisor directory (no advisor.json)")
        meta = json.loads(meta_path.read_text())
        if meta["features"] != features.feature_names():
            raise DataError(f"{meta_path}: saved feature list differs from this code's; retrain the advisor")
        if not (path / "size.lgb.txt").exists():
            raise DataError(f"{path}: no expected-size model (size.lgb.txt); retrain the advisor")
        stats = features.FitStats(
            items=read_frame(path / "item_stats.parquet"),
            users=read_frame(path / "user_stats.parquet"),
            categories=read_frame(path / "category_stats.parquet"),
            p_small=meta["p_small"],
            p_large=meta["p_large"],
        )
        return cls(
            small_model=lgb.Booster(model_str=(path / "small.lgb.txt").read_text()),
            large_model=lgb.Booster(model_str=(path / "large.lgb.txt").read_text()),
            size_model=lgb.Booster(model_str=(path / "size.lgb.txt").read_text()),
            stats=stats,
            vocab=meta["vocab"],
            size_chart=read_frame(path / "size_chart.parquet"),
            max_sizes=int(meta["max_sizes"]),
            smoothing=float(meta["smoothing"]),
        )


def expand_sizes(x: np.ndarray, rows: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Design rows ``x[rows]`` re-asked at ``sizes``: only the size-derived columns change."""
    names = features.feature_names()
    out = x[rows]
    out[:, names.index("size")] = sizes
    columns = {name: out[:, names.index(name)] for name in features.SIZE_INPUTS}
    for name, values in features.size_features(sizes, columns).items():
        out[:, names.index(name)] = values
    return out


def best_sizes(grid: np.ndarray, a: np.ndarray, b: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Per row, the grid size with the highest P(fit); ties go to the size nearest ``expected``.

    Args:
        grid: (n, G) ascending sizes per row (NaN-free).
        a: (n, G) P(small); b: (n, G) P(large | not small).
        expected: (n,) the shopper's expected size for the garment (:meth:`FitAdvisor.expected_sizes`).
    """
    return pick_sizes(grid, np.where(np.isfinite(grid), (1 - a) * (1 - b), -1.0), expected)


def pick_sizes(sizes: np.ndarray, p_fit: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Per row, the size with the highest ``p_fit``; ties go to the size nearest ``expected``."""
    # P(fit) is flat over most of a garment's sizes (monotone step curves that barely move
    # with size on RTR), so the tie rule decides most advice. Ties used to go to the smallest
    # size, then to where small and large risk balance (also the smallest size on flat
    # curves): renting that size fitted *less* often than the base rate. The size shoppers
    # like this one were happy in is the sensible choice among sizes the model cannot separate.
    tied = p_fit >= p_fit.max(axis=1, keepdims=True) - 1e-9
    distance = np.abs(sizes - np.nan_to_num(expected, nan=0.0)[:, None])
    best = np.argmin(np.where(tied, distance, np.inf), axis=1)
    return sizes[np.arange(len(sizes)), best]


def three_classes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Continuation ratio to class probabilities: (a, (1 - a)(1 - b), (1 - a) b)."""
    return np.column_stack([a, (1 - a) * (1 - b), (1 - a) * b])


def build_size_chart(frame: pd.DataFrame, max_sizes: int) -> pd.DataFrame:
    """Most-rented sizes per item, per category and overall: the sizes an advice chooses from."""
    sized = frame.dropna(subset=["size"])
    parts = []
    for kind, key in (("item", "item_id"), ("category", "category")):
        counts = sized.dropna(subset=[key]).groupby([key, "size"]).size().rename("count").reset_index()
        counts = counts.sort_values([key, "count"], ascending=[True, False]).groupby(key).head(max_sizes)
        parts.append(counts.rename(columns={key: "key"}).assign(key_kind=kind))
    overall = sized.groupby("size").size().rename("count").reset_index().nlargest(max_sizes, "count")
    parts.append(overall.assign(key="*", key_kind="all"))
    chart = pd.concat(parts, ignore_index=True)[["key_kind", "key", "size", "count"]]
    chart["key"] = chart["key"].astype(str)
    return chart


def lgb_params(cfg: AdvisorConfig, objective: str, seed: int) -> dict[str, Any]:
    """LightGBM parameters shared by the advisor's three models."""
    return {
        "objective": objective,
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "feature_fraction": cfg.feature_fraction,
        "lambda_l2": cfg.lambda_l2,
        "num_threads": cfg.num_threads,
        "seed": seed,
        "deterministic": True,
        "verbosity": -1,
    }


def train_advisor(
    train: pd.DataFrame, val: pd.DataFrame, cfg: AdvisorConfig, seed: int
) -> tuple[FitAdvisor, dict[str, float]]:
    """Fit both binary models and the expected-size model with early stopping on ``val``.

    Args:
        train: labelled training transactions (rows without a fit label are dropped).
        val: labelled validation transactions (early stopping only; never the test part).
        cfg: advisor hyper-parameters.
        seed: seed for folds and LightGBM.

    Returns:
        The advisor and training facts (rounds, seconds).
    """
    train, val = labelled_only(train, val)
    start = time.perf_counter()
    design = build_design(train, val, cfg, seed)
    y, y_val = design.y_train, design.y_val
    # P(small) first; P(large) is then learnt among the rows that were not small
    small = fit_binary(design.x_train, y == 0, design.x_val, y_val == 0, -1, cfg, seed)
    keep, keep_val = y != 0, y_val != 0
    large = fit_binary(
        design.x_train[keep], y[keep] == 2, design.x_val[keep_val], y_val[keep_val] == 2, +1, cfg, seed
    )
    fit, fit_val = y == 1, y_val == 1
    sizes, sizes_val = train["size"].to_numpy(float), val["size"].to_numpy(float)
    size_model = fit_expected_size(
        design.x_train[fit], sizes[fit], design.x_val[fit_val], sizes_val[fit_val], cfg, seed
    )
    advisor = FitAdvisor(
        small_model=small,
        large_model=large,
        size_model=size_model,
        stats=design.stats,
        vocab=design.vocab,
        size_chart=build_size_chart(train, cfg.max_sizes_per_item),
        max_sizes=cfg.max_sizes_per_item,
        smoothing=cfg.smoothing,
    )
    facts = {
        "advisor_train_seconds": time.perf_counter() - start,
        "advisor_rounds_small": float(small.best_iteration or small.current_iteration()),
        "advisor_rounds_large": float(large.best_iteration or large.current_iteration()),
        "advisor_rounds_size": float(size_model.best_iteration or size_model.current_iteration()),
        "advisor_train_rows": float(len(train)),
    }
    return advisor, facts


def labelled_only(train: pd.DataFrame, val: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows with a fit label (small/fit/large) of both parts.

    Raises:
        DataError: too few labelled rows to train on or to stop early with.
    """
    train = train[features.fit_codes(train["fit"]) >= 0]
    val = val[features.fit_codes(val["fit"]) >= 0]
    if len(train) < 20 or len(val) < 5:
        raise DataError(
            f"fit: too few labelled transactions to train the advisor (train {len(train)}, val {len(val)})"
        )
    return train, val


@dataclass(frozen=True)
class Design:
    """The advisor's design matrices and fit codes, and the preprocessing that produced them."""

    x_train: pd.DataFrame
    y_train: np.ndarray
    x_val: pd.DataFrame
    y_val: np.ndarray
    stats: features.FitStats  # fitted on all of train: what the saved advisor joins at serving
    vocab: dict


def build_design(train: pd.DataFrame, val: pd.DataFrame, cfg: AdvisorConfig, seed: int) -> Design:
    """Design matrices: train rows get out-of-fold statistics (no row sees its own label),
    validation rows the statistics of all of train, as serving will."""
    vocab = features.build_vocab(train)
    train_stats = features.out_of_fold_stats(train, cfg.n_folds, cfg.smoothing, seed)
    stats = features.compute_stats(train, cfg.smoothing)
    return Design(
        x_train=features.design_matrix(train, train_stats, vocab),
        y_train=features.fit_codes(train["fit"]),
        x_val=features.design_matrix(val, features.join_stats(val, stats), vocab),
        y_val=features.fit_codes(val["fit"]),
        stats=stats,
        vocab=vocab,
    )


def monotone_params(cfg: AdvisorConfig, sign: int) -> dict[str, Any]:
    """LightGBM's monotone-constraint parameters: ``sign`` along the constrained size features.

    ``monotone_constraints`` picks them: every size feature, only the size-relative ones (the
    raw size free), or none.
    """
    if cfg.monotone_constraints == "none":
        return {}
    names = features.feature_names()
    constrained = set(
        features.SIZE_FEATURES if cfg.monotone_constraints == "all" else features.RELATIVE_SIZE_FEATURES
    )
    return {
        "monotone_constraints": [sign if name in constrained else 0 for name in names],
        "monotone_constraints_method": cfg.monotone_method,
        "monotone_penalty": cfg.monotone_penalty,
    }


def fit_binary(
    x: pd.DataFrame,
    y: np.ndarray,
    x_val: pd.DataFrame,
    y_val: np.ndarray,
    sign: int,
    cfg: AdvisorConfig,
    seed: int,
) -> Any:
    """One binary LightGBM model (P(small): ``sign`` -1, P(large): +1 along the size features)."""
    import lightgbm as lgb

    params = {**lgb_params(cfg, "binary", seed), **monotone_params(cfg, sign)}
    names, cats = features.feature_names(), list(features.CATEGORICAL)
    dtrain = lgb.Dataset(x, y.astype(int), feature_name=names, categorical_feature=cats, free_raw_data=True)
    dval = lgb.Dataset(x_val, y_val.astype(int), reference=dtrain, categorical_feature=cats)
    return train_early_stopped(params, dtrain, dval, cfg)


def train_early_stopped(params: dict[str, Any], dtrain: Any, dval: Any, cfg: AdvisorConfig) -> Any:
    """``lightgbm.train`` up to ``cfg.num_boost_round`` rounds, stopped early on ``dval``."""
    import lightgbm as lgb

    return lgb.train(
        params,
        dtrain,
        num_boost_round=cfg.num_boost_round,
        valid_sets=[dval],
        callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
    )


def fit_expected_size(
    x: pd.DataFrame,
    size: np.ndarray,
    x_val: pd.DataFrame,
    size_val: np.ndarray,
    cfg: AdvisorConfig,
    seed: int,
) -> Any:
    """LightGBM regression of the size renters who reported "fit" chose, from everything but size.

    Args:
        x, x_val: design rows (:func:`features.design_matrix`) of "fit" transactions; their size
            columns are dropped.
        size, size_val: their rented sizes (rows without a size are dropped).
    """
    import lightgbm as lgb

    columns = features.size_free_columns()
    names = [features.feature_names()[i] for i in columns]
    cats = [c for c in features.CATEGORICAL if c in names]
    has, has_val = np.isfinite(size), np.isfinite(size_val)
    if not has.any():
        raise DataError('fit: no "fit" transaction with a size to learn the expected size from')
    x, size = x.iloc[:, columns][has], size[has]
    # early stopping needs a validation set; a tiny one without sized "fit" rows reuses training
    x_val, size_val = (x_val.iloc[:, columns][has_val], size_val[has_val]) if has_val.any() else (x, size)
    params = lgb_params(cfg, "regression", seed)
    dtrain = lgb.Dataset(x, size, feature_name=names, categorical_feature=cats)
    dval = lgb.Dataset(x_val, size_val, reference=dtrain, categorical_feature=cats)
    return train_early_stopped(params, dtrain, dval, cfg)
