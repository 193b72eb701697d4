"""Train/validation/test splits: random by transaction (fit) and time-ordered (ranking)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fitting_room.errors import DataError


def random_split(
    frame: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Random transaction split, as in Misra et al. (RecSys 2018): 80/10/10 by default."""
    order = np.random.default_rng(seed).permutation(len(frame))
    n_test = round(len(frame) * test_fraction)
    n_val = round(len(frame) * val_fraction)
    test = frame.iloc[np.sort(order[:n_test])]
    val = frame.iloc[np.sort(order[n_test : n_test + n_val])]
    train = frame.iloc[np.sort(order[n_test + n_val :])]
    return train, val, test


def time_split(frame: pd.DataFrame, holdout_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out the latest transactions: everything after the date cut-off is test.

    Every shopper's later transactions are thereby held out; shoppers whose only transactions
    fall after the cut-off are the cold-start slice of the evaluation.
    """
    if "review_date" not in frame or frame["review_date"].isna().all():
        raise DataError("review_date: needed for the time-ordered split but missing in every row")
    dated = frame.dropna(subset=["review_date"])
    cutoff = dated["review_date"].quantile(1 - holdout_fraction)
    train = dated[dated["review_date"] <= cutoff]
    test = dated[dated["review_date"] > cutoff]
    if train.empty or test.empty:
        raise DataError(f"review_date: the time split at {cutoff} leaves an empty train or test part")
    return train, test
