"""Atomic, pickle-free writes of model parts: text, JSON, parquet and npz.

Every file is written to a temporary sibling and moved into place, so a crash never leaves a
half-written artifact that a later load would trust.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitting_room.errors import DataError


def atomic_write(path: Path, write: Any, suffix: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, doc: Any) -> Path:
    return write_text(path, json.dumps(doc, indent=2, sort_keys=True, default=str))


def write_frame(path: Path, frame: pd.DataFrame) -> Path:
    return atomic_write(path, lambda tmp: frame.to_parquet(tmp))


def write_arrays(path: Path, **arrays: np.ndarray) -> Path:
    # np.savez appends .npz to names without it, so the temp name must end in .npz
    return atomic_write(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")


def read_frame(path: Path) -> pd.DataFrame:
    if not Path(path).exists():
        raise DataError(f"model file missing: {path}")
    return pd.read_parquet(path)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not Path(path).exists():
        raise DataError(f"model file missing: {path}")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
