"""Drift between incoming shopper data and the data the current models were trained on.

Numeric features: the population stability index (PSI) over the reference's quantile bins
and the two-sample Kolmogorov-Smirnov statistic. Categorical features: the largest absolute
change of any category's share. Missing values are left out of each comparison; a column
that is empty on either side is reported, not judged. Thresholds come from ``ops.drift``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fitting_room.config import Config
from fitting_room.config.ops import DriftConfig
from fitting_room.errors import DataError

EPS = 1e-4  # floor of a bin's share inside the PSI's log (an empty bin is not infinite drift)


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    statistic: str  # "psi", "ks" or "share_shift"
    value: float  # NaN when one side has no values
    threshold: float
    drifted: bool
    detail: str = ""


@dataclass(frozen=True)
class DriftReport:
    n_reference: int
    n_incoming: int
    checks: tuple[FeatureDrift, ...]
    min_drifted: int

    @property
    def drifted_features(self) -> list[str]:
        return sorted({c.feature for c in self.checks if c.drifted})

    @property
    def drifted(self) -> bool:
        return len(self.drifted_features) >= self.min_drifted

    def as_dict(self) -> dict:
        return {
            "drifted": self.drifted,
            "drifted_features": self.drifted_features,
            "n_reference": self.n_reference,
            "n_incoming": self.n_incoming,
            "min_drifted": self.min_drifted,
            "checks": [asdict(c) for c in self.checks],
        }

    def metrics(self) -> dict[str, float]:
        """Finite per-feature statistics as MLflow metric names (``drift.height_cm.psi``)."""
        out = {f"drift.{c.feature}.{c.statistic}": c.value for c in self.checks if np.isfinite(c.value)}
        return {**out, "drift.drifted_features": float(len(self.drifted_features))}

    def to_markdown(self) -> str:
        verdict = (
            f"**drift: retraining triggered** ({', '.join(self.drifted_features)})"
            if self.drifted
            else f"no drift beyond thresholds ({len(self.drifted_features)} of {self.min_drifted} needed)"
        )
        rows = "\n".join(
            f"| {c.feature} | {c.statistic} | {c.value:.4f} | {c.threshold:g} | "
            f"{'DRIFT' if c.drifted else 'ok'} | {c.detail} |"
            for c in self.checks
        )
        return (
            f"## Shopper data drift\n\n{verdict}\n\nreference rows: {self.n_reference}, "
            f"incoming rows: {self.n_incoming}\n\n"
            "| feature | statistic | value | threshold | result | detail |\n"
            f"|---|---|---|---|---|---|\n{rows}\n"
        )


def psi(reference: np.ndarray, incoming: np.ndarray, bins: int) -> float:
    """Population stability index of ``incoming`` against ``reference`` on reference-quantile bins."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:  # a constant reference: one bin for "equal to it", one for "anything else"
        ref_share = np.array([1.0, 0.0])
        new_share = np.array([np.mean(incoming == edges[0]), np.mean(incoming != edges[0])])
    else:
        inner = edges[1:-1]  # open-ended outer bins catch incoming values beyond the reference range
        ref_share = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=inner.size + 1)
        new_share = np.bincount(np.searchsorted(inner, incoming, side="right"), minlength=inner.size + 1)
        ref_share = ref_share / reference.size
        new_share = new_share / incoming.size
    ref_share = np.clip(ref_share, EPS, None)
    new_share = np.clip(new_share, EPS, None)
    return float(np.sum((new_share - ref_share) * np.log(new_share / ref_share)))


def ks_statistic(reference: np.ndarray, incoming: np.ndarray) -> float:
    """Largest gap between the two empirical distribution functions."""
    from scipy.stats import ks_2samp

    return float(ks_2samp(reference, incoming).statistic)


def share_shift(reference: pd.Series, incoming: pd.Series) -> tuple[float, str]:
    """Largest absolute change of a category's share, and which category moved most."""
    ref = reference.value_counts(normalize=True)
    new = incoming.value_counts(normalize=True)
    diff = new.reindex(ref.index.union(new.index), fill_value=0.0) - ref.reindex(
        ref.index.union(new.index), fill_value=0.0
    )
    top = diff.abs().idxmax()
    return float(abs(diff[top])), f"{top}: {ref.get(top, 0.0):.3f} -> {new.get(top, 0.0):.3f}"


def compare_frames(reference: pd.DataFrame, incoming: pd.DataFrame, cfg: DriftConfig) -> DriftReport:
    """Per-feature drift of ``incoming`` against ``reference`` with the thresholds of ``cfg``.

    Raises:
        DataError: ``incoming`` has fewer than ``cfg.min_rows`` rows, or a configured feature
            is missing from either frame (naming it).
    """
    if len(incoming) < cfg.min_rows:
        raise DataError(f"incoming data has {len(incoming)} rows; ops.drift.min_rows is {cfg.min_rows}")
    for name, frame in (("reference", reference), ("incoming", incoming)):
        missing = [c for c in [*cfg.numeric, *cfg.categorical] if c not in frame.columns]
        if missing:
            raise DataError(f"{name} data lacks drift feature(s) {missing} named in ops.drift")
    checks: list[FeatureDrift] = []
    for column in cfg.numeric:
        ref = reference[column].to_numpy(dtype=np.float64, na_value=np.nan)
        new = incoming[column].to_numpy(dtype=np.float64, na_value=np.nan)
        ref, new = ref[np.isfinite(ref)], new[np.isfinite(new)]
        if ref.size == 0 or new.size == 0:
            note = f"no values (reference {ref.size}, incoming {new.size})"
            checks.append(FeatureDrift(column, "psi", float("nan"), cfg.max_psi, False, note))
            continue
        value = psi(ref, new, cfg.bins)
        detail = f"mean {ref.mean():.4g} -> {new.mean():.4g}"
        checks.append(FeatureDrift(column, "psi", value, cfg.max_psi, value > cfg.max_psi, detail))
        value = ks_statistic(ref, new)
        checks.append(FeatureDrift(column, "ks", value, cfg.max_ks, value > cfg.max_ks, detail))
    for column in cfg.categorical:
        ref, new = reference[column].dropna().astype(str), incoming[column].dropna().astype(str)
        if ref.empty or new.empty:
            note = f"no values (reference {len(ref)}, incoming {len(new)})"
            checks.append(FeatureDrift(column, "share_shift", float("nan"), cfg.max_share_shift, False, note))
            continue
        value, detail = share_shift(ref, new)
        checks.append(
            FeatureDrift(
                column, "share_shift", value, cfg.max_share_shift, value > cfg.max_share_shift, detail
            )
        )
    return DriftReport(len(reference), len(incoming), tuple(checks), cfg.min_drifted)


def load_incoming(paths: list[Path], ranges: dict, max_rows: int | None = None) -> pd.DataFrame:
    """Parse new Clothing-Fit files and blank implausible values, as validation does for the reference.

    Raises:
        DataError: naming a file that is missing or malformed.
    """
    from fitting_room.data.clothing_fit import parse_clothing_fit
    from fitting_room.validation.shoppers import apply_ranges

    frames = []
    for path in paths:
        if not Path(path).is_file():
            raise DataError(f"{path}: incoming shopper file not found")
        frames.append(parse_clothing_fit(path, max_rows=max_rows))
    clean, _ = apply_ranges(pd.concat(frames, ignore_index=True), ranges)
    return clean


def load_reference(path: Path) -> pd.DataFrame:
    """The validated shopper data of the last training run.

    Raises:
        DataError: naming the file when it is missing (no training run yet).
    """
    from fitting_room.validation.shoppers import read_transactions

    return read_transactions(Path(path))


def incoming_paths(cfg: Config, incoming: list[Path] | None = None) -> list[Path]:
    """The files to check: ``incoming``, else the configured shopper sources (a new drop at the
    same path is exactly what the next training run would ingest)."""
    return list(incoming) if incoming else [Path(s.path) for s in cfg.data.shoppers.sources if s.path]


def check_drift(cfg: Config, paths: list[Path], root: str | Path = ".") -> DriftReport:
    """The drift decision: ``paths`` against the training reference, judged by ``ops.drift``.

    The CLI (``fitting-room drift``) and the drift flow both call this; relative paths are
    read from ``root``.

    Raises:
        DataError: naming a missing or malformed file (incoming, or the reference).
    """
    root = Path(root)
    reference = load_reference(root / cfg.ops.drift.reference)
    incoming = load_incoming(
        [root / p for p in paths], cfg.validation.shoppers.ranges, cfg.data.shoppers.max_rows
    )
    return compare_frames(reference, incoming, cfg.ops.drift)
