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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitting_room.config.recommender import AdvisorConfig
from fitting_room.errors import DataError
from fitting_room.recommender import features as F
from fitting_room.recommender.storage import read_frame, write_frame, write_json, write_text


@dataclass(frozen=True)
class FitAdvisor:
    """A trained advisor with everything needed to score raw rows (stats, vocab, size chart)."""

    small_model: Any  # lightgbm.Booster for P(small)
    large_model: Any  # lightgbm.Booster for P(large | not small)
    stats: F.FitStats
    vocab: dict[str, list[str]]
    size_chart: pd.DataFrame  # columns key_kind (item|category|all), key, size, count
    max_sizes: int
    smoothing: float  # pseudo-count the statistics were computed with (to recompute them)

    def predict_proba(self, frame: pd.DataFrame, num_threads: int = 0) -> np.ndarray:
        """(n, 3) probabilities of small, fit, large for raw transaction-like rows."""
        x = F.design_matrix(frame, F.join_stats(frame, self.stats), self.vocab)
        values = x.to_numpy(dtype=np.float64)
        a = self.small_model.predict(values, num_threads=num_threads)
        b = self.large_model.predict(values, num_threads=num_threads)
        return np.column_stack([a, (1 - a) * (1 - b), (1 - a) * b])

    def candidate_sizes(self, item_ids: pd.Series, categories: pd.Series) -> pd.DataFrame:
        """The size grid of each row: its item's most-rented sizes, else its category's, else overall.

        Returns:
            Columns ``pos`` (row position in the input) and ``size``, sorted by ``pos`` then size.
        """
        chart = self.size_chart
        rows = pd.DataFrame({"pos": np.arange(len(item_ids)), "item": item_ids.astype(str).to_numpy()})
        rows["cat"] = categories.astype(object).to_numpy()
        by_item = chart[chart["key_kind"] == "item"][["key", "size"]]
        found = rows.merge(by_item, left_on="item", right_on="key", how="inner")[["pos", "size"]]
        rest = rows[~rows["pos"].isin(found["pos"])]
        by_cat = chart[chart["key_kind"] == "category"][["key", "size"]]
        found_cat = rest.merge(by_cat, left_on="cat", right_on="key", how="inner")[["pos", "size"]]
        rest = rest[~rest["pos"].isin(found_cat["pos"])]
        overall = chart.loc[chart["key_kind"] == "all", "size"].to_numpy()
        fallback = pd.DataFrame(
            {"pos": np.repeat(rest["pos"].to_numpy(), len(overall)), "size": np.tile(overall, len(rest))}
        )
        grid = pd.concat([found, found_cat, fallback]).sort_values(["pos", "size"], kind="stable")
        return grid.reset_index(drop=True)

    def advise(self, frame: pd.DataFrame, num_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities at each row's own size, and the size of its grid with the highest P(fit).

        Args:
            frame: rows with shopper columns, ``item_id``, ``category`` and ``size`` (may be NaN).

        Returns:
            ``(proba (n, 3), advised_size (n,))``; a row without a size gets the probabilities
            of its advised size.
        """
        frame = F.with_keys(frame).reset_index(drop=True)
        if "size" not in frame:
            frame = frame.assign(size=np.nan)
        grid = self.candidate_sizes(frame["item_id"], frame["category"])
        own = pd.DataFrame({"pos": np.arange(len(frame)), "size": frame["size"].to_numpy(dtype=float)})
        own = own.dropna()
        points = pd.concat([own, grid], ignore_index=True)
        expanded = frame.iloc[points["pos"].to_numpy()].reset_index(drop=True)
        expanded["size"] = points["size"].to_numpy()
        proba = self.predict_proba(expanded, num_threads)
        on_grid = proba[len(own) :]
        best = grid.assign(p_fit=on_grid[:, 1]).groupby("pos")["p_fit"].idxmax()
        advised = np.full(len(frame), np.nan)
        advised[best.index.to_numpy()] = grid.loc[best.to_numpy(), "size"].to_numpy()
        out = np.full((len(frame), 3), np.nan)
        out[best.index.to_numpy()] = on_grid[best.to_numpy()]
        out[own["pos"].to_numpy()] = proba[: len(own)]
        return out, advised

    def save(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        write_text(path / "small.lgb.txt", self.small_model.model_to_string())
        write_text(path / "large.lgb.txt", self.large_model.model_to_string())
        write_frame(path / "item_stats.parquet", self.stats.items)
        write_frame(path / "user_stats.parquet", self.stats.users)
        write_frame(path / "category_stats.parquet", self.stats.categories)
        write_frame(path / "size_chart.parquet", self.size_chart)
        meta = {
            "p_small": self.stats.p_small,
            "p_large": self.stats.p_large,
            "vocab": self.vocab,
            "features": F.feature_names(),
            "labels": list(F.FIT_LABELS),
            "max_sizes": self.max_sizes,
            "smoothing": self.smoothing,
        }
        write_json(path / "advisor.json", meta)
        return path

    @classmethod
    def load(cls, path: Path) -> FitAdvisor:
        import lightgbm as lgb

        meta_path = path / "advisor.json"
        if not meta_path.exists():
            raise DataError(f"{path}: not an advisor directory (no advisor.json)")
        meta = json.loads(meta_path.read_text())
        if meta["features"] != F.feature_names():
            raise DataError(f"{meta_path}: saved feature list differs from this code's; retrain the advisor")
        stats = F.FitStats(
            items=read_frame(path / "item_stats.parquet"),
            users=read_frame(path / "user_stats.parquet"),
            categories=read_frame(path / "category_stats.parquet"),
            p_small=meta["p_small"],
            p_large=meta["p_large"],
        )
        return cls(
            small_model=lgb.Booster(model_str=(path / "small.lgb.txt").read_text()),
            large_model=lgb.Booster(model_str=(path / "large.lgb.txt").read_text()),
            stats=stats,
            vocab=meta["vocab"],
            size_chart=read_frame(path / "size_chart.parquet"),
            max_sizes=int(meta["max_sizes"]),
            smoothing=float(meta["smoothing"]),
        )


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


def train_advisor(
    train: pd.DataFrame, val: pd.DataFrame, cfg: AdvisorConfig, seed: int
) -> tuple[FitAdvisor, dict[str, float]]:
    """Fit both binary models with early stopping on ``val``.

    Args:
        train: labelled training transactions (rows without a fit label are dropped).
        val: labelled validation transactions (early stopping only; never the test part).
        cfg: advisor hyper-parameters.
        seed: seed for folds and LightGBM.

    Returns:
        The advisor and training facts (rounds, seconds).
    """
    import lightgbm as lgb

    train = train[F.fit_codes(train["fit"]) >= 0]
    val = val[F.fit_codes(val["fit"]) >= 0]
    if len(train) < 20 or len(val) < 5:
        raise DataError(
            f"fit: too few labelled transactions to train the advisor (train {len(train)}, val {len(val)})"
        )
    start = time.perf_counter()
    vocab = F.build_vocab(train)
    x_train = F.design_matrix(train, F.out_of_fold_stats(train, cfg.n_folds, cfg.smoothing, seed), vocab)
    stats = F.compute_stats(train, cfg.smoothing)
    x_val = F.design_matrix(val, F.join_stats(val, stats), vocab)
    y_train, y_val = F.fit_codes(train["fit"]), F.fit_codes(val["fit"])

    names = F.feature_names()
    size_idx = {names.index(f) for f in F.SIZE_FEATURES}

    def fit_binary(x: pd.DataFrame, y: np.ndarray, xv: pd.DataFrame, yv: np.ndarray, sign: int) -> Any:
        params = {
            "objective": "binary",
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
        if cfg.monotone_constraints:
            params["monotone_constraints"] = [sign if i in size_idx else 0 for i in range(len(names))]
            params["monotone_constraints_method"] = "intermediate"
        cats = list(F.CATEGORICAL)
        dtrain = lgb.Dataset(x, y, feature_name=names, categorical_feature=cats, free_raw_data=True)
        dval = lgb.Dataset(xv, yv, reference=dtrain, categorical_feature=cats)
        return lgb.train(
            params,
            dtrain,
            num_boost_round=cfg.num_boost_round,
            valid_sets=[dval],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        )

    small = fit_binary(x_train, (y_train == 0).astype(int), x_val, (y_val == 0).astype(int), -1)
    keep, keep_val = y_train != 0, y_val != 0
    y_large, y_large_val = (y_train[keep] == 2).astype(int), (y_val[keep_val] == 2).astype(int)
    large = fit_binary(x_train[keep], y_large, x_val[keep_val], y_large_val, +1)
    advisor = FitAdvisor(
        small_model=small,
        large_model=large,
        stats=stats,
        vocab=vocab,
        size_chart=build_size_chart(train, cfg.max_sizes_per_item),
        max_sizes=cfg.max_sizes_per_item,
        smoothing=cfg.smoothing,
    )
    facts = {
        "advisor_train_seconds": time.perf_counter() - start,
        "advisor_rounds_small": float(small.best_iteration or small.current_iteration()),
        "advisor_rounds_large": float(large.best_iteration or large.current_iteration()),
        "advisor_train_rows": float(len(train)),
    }
    return advisor, facts
