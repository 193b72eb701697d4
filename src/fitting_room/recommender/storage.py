"""Pickle-free model parts as parquet tables and npz arrays, written all-or-nothing.

Writes go through :func:`fitting_room.files.atomic_write` (text and JSON parts use
``atomic_write_text`` / ``atomic_write_json`` from there directly), so a crash never leaves
a half-written artifact that a later load would trust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitting_room.errors import DataError
from fitting_room.files import atomic_write


def write_frame(path: Path, frame: pd.DataFrame) -> Path:
    return atomic_write(path, lambda tmp: frame.to_parquet(tmp))


def write_arrays(path: Path, **arrays: np.ndarray) -> Path:
    named: dict[str, Any] = arrays  # numpy's stub would read a key as savez's allow_pickle flag
    # np.savez appends .npz to names without it, so the temp name must end in .npz
    return atomic_write(path, lambda tmp: np.savez(tmp, **named), suffix=".npz")


def read_frame(path: Path) -> pd.DataFrame:
    if not Path(path).exists():
        raise DataError(f"model file missing: {path}")
    return pd.read_parquet(path)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not Path(path).exists():
        raise DataError(f"model file missing: {path}")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
