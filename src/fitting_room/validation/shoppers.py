"""Validation of shopper transactions: ``transactions.parquet`` in, ``validated.parquet`` out.

Policy for measurements: a value outside its plausible range (``validation.shoppers.ranges``,
SI units) is a data-entry error of one shopper, not a broken file. It is counted, set to
missing in ``validated.parquet``, and fails the suite only when a column has more of them
than ``max_out_of_range_share`` of its non-missing values (GX ``mostly``). Structure
problems (columns, dtypes, fit labels, ids, row count, too many missing values) always fail.

``validated.parquet`` is written only when the suite passes; a failing run deletes a stale
one, so nothing downstream can consume data that did not pass the current checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitting_room.config.data import ShopperValidationConfig, ValidationConfig
from fitting_room.errors import DataError
from fitting_room.files import atomic_write
from fitting_room.validation.gx_runner import Batch, run_suites
from fitting_room.validation.report import (
    ValidationReport,
    clear_report,
    docs_dir,
    raise_if_failed,
    write_report,
)

FIT_LABELS = ("small", "fit", "large")
SOURCES = ("renttherunway", "modcloth")
TEXT, INT, FLOAT, DATE = "str", "int64", "float64", "datetime64[ns]"
SCHEMA = {
    "source": TEXT,
    "row": INT,
    "user_id": TEXT,
    "item_id": TEXT,
    "fit": TEXT,
    "size": FLOAT,
    "rating": FLOAT,
    "quality": FLOAT,
    "rented_for": TEXT,
    "body_type": TEXT,
    "category": TEXT,
    "height_cm": FLOAT,
    "weight_kg": FLOAT,
    "age_years": FLOAT,
    "bust_band_cm": FLOAT,
    "cup_index": FLOAT,
    "cup_size": TEXT,
    "waist_cm": FLOAT,
    "hips_cm": FLOAT,
    "bust_cm": FLOAT,
    "shoe_size": FLOAT,
    "shoe_width": TEXT,
    "length": TEXT,
    "review_date": DATE,
}


def read_transactions(path: Path) -> pd.DataFrame:
    """The ingest stage's parquet file.

    Raises:
        DataError: naming the file when it is missing or unreadable.
    """
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise DataError(f"{path}: missing (run the ingest stage first)") from None
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable parquet ({err})") from None


def out_of_range_mask(frame: pd.DataFrame, ranges: dict[str, Any]) -> pd.DataFrame:
    """True where a value lies outside its column's plausible range (missing values never do)."""
    mask = pd.DataFrame(False, index=frame.index, columns=list(ranges))
    for column, bounds in ranges.items():
        if column in frame:
            values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
            mask[column] = (values < bounds.min) | (values > bounds.max)
    return mask


def apply_ranges(frame: pd.DataFrame, ranges: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, int]]:
    """A copy with out-of-range values set to missing, and how many were set per column."""
    mask = out_of_range_mask(frame, ranges)
    clean = frame.copy()
    for column in mask.columns:
        if column in clean and mask[column].any():
            clean.loc[mask[column].to_numpy(), column] = np.nan
    return clean, {column: int(mask[column].sum()) for column in mask.columns}


def shopper_expectations(columns: list[str], cfg: ShopperValidationConfig) -> list[Any]:
    """The GX suite over ``transactions.parquet`` (``columns``: those present in the frame)."""
    import great_expectations as gx

    E = gx.expectations
    present = [c for c in SCHEMA if c in columns]
    checks: list[Any] = [
        E.ExpectTableRowCountToBeBetween(min_value=cfg.min_rows),
        E.ExpectTableColumnsToMatchSet(column_set=list(SCHEMA), exact_match=False),
    ]
    for column in present:
        # GX compares the dtype's scalar type: "str" accepts any pandas string dtype, not object
        checks.append(E.ExpectColumnValuesToBeOfType(column=column, type_=SCHEMA[column]))
    for column in ("source", "row", "user_id", "item_id"):
        if column in present:
            checks.append(E.ExpectColumnValuesToNotBeNull(column=column))
    for column in ("user_id", "item_id"):
        if column in present:
            # an id of only blanks joins every anonymous row into one fake shopper
            checks.append(E.ExpectColumnValuesToMatchRegex(column=column, regex=r"\S"))
    if {"source", "row"} <= set(present):
        checks.append(E.ExpectCompoundColumnsToBeUnique(column_list=["source", "row"]))
    if "source" in present:
        checks.append(E.ExpectColumnValuesToBeInSet(column="source", value_set=list(SOURCES)))
    if "fit" in present:
        checks.append(E.ExpectColumnValuesToBeInSet(column="fit", value_set=list(FIT_LABELS)))
    for column, share in cfg.max_missing_share.items():
        checks.append(E.ExpectColumnValuesToNotBeNull(column=column, mostly=1 - share))
    for column, bounds in cfg.ranges.items():
        checks.append(
            E.ExpectColumnValuesToBeBetween(
                column=column,
                min_value=bounds.min,
                max_value=bounds.max,
                mostly=1 - cfg.max_out_of_range_share,
            )
        )
    return checks


def validate_shoppers(shoppers_dir: Path, cfg: ValidationConfig) -> ValidationReport:
    """Stage: validate ``transactions.parquet`` and write ``validated.parquet`` when it passes.

    Writes ``<reports_dir>/shoppers.json`` (also on failure) and Data Docs under
    ``<reports_dir>/shoppers_data_docs/``.

    Args:
        shoppers_dir: the ingest output folder (holds ``transactions.parquet``).
        cfg: the ``validation`` config section.

    Returns:
        The report of a passing validation.

    Raises:
        DataError: the input is missing or unreadable.
        ValidationFailed: an expectation failed; the message lists each one.
    """
    shoppers_dir = Path(shoppers_dir)
    clear_report(cfg.reports_dir, "shoppers")
    frame = read_transactions(shoppers_dir / "transactions.parquet")
    scfg = cfg.shoppers
    docs = docs_dir(cfg.reports_dir, "shoppers")
    batch = Batch("shoppers", frame, shopper_expectations(list(frame.columns), scfg))
    suites = run_suites([batch], docs, cfg.sample_failures)
    # a non-numeric range column already fails its dtype check; it cannot be compared here
    numeric = {c: r for c, r in scfg.ranges.items() if c in frame and pd.api.types.is_numeric_dtype(frame[c])}
    clean, out_of_range = apply_ranges(frame, numeric)
    counts: dict[str, int | float] = {"rows": len(frame)}
    if "source" in frame:
        counts |= {f"rows_{s}": int(n) for s, n in frame["source"].value_counts().items()}
    counts["out_of_range_values"] = sum(out_of_range.values())
    counts["failed_expectations"] = len(suites[0].failures)
    report = ValidationReport(
        stage="shoppers",
        success=suites[0].success,
        counts=counts,
        suites=suites,
        details={
            "out_of_range": out_of_range,
            "missing_share": {c: round(float(s), 6) for c, s in frame.isna().mean().items()},
        },
        docs_index=docs / "index.html",
    )
    path = write_report(report, cfg.reports_dir)
    target = shoppers_dir / "validated.parquet"
    if report.success:
        _write_parquet(clean, target)
    else:
        target.unlink(missing_ok=True)
    return raise_if_failed(report, path)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
