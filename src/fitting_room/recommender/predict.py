"""Batch advice for a Clothing-Fit file, and finding the guide to use (folder or registry)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fitting_room.config import Config
from fitting_room.config.data import Range
from fitting_room.errors import DataError
from fitting_room.files import atomic_write
from fitting_room.recommender.guide import ShoppingGuide

OUTPUT_COLUMNS = ("row", "p_small", "p_fit", "p_large", "advised_size")


def load_guide(cfg: Config, model_uri: str | None) -> ShoppingGuide:
    """A guide from a local folder, a ``models:/`` URI, or the registered champion by default."""
    if model_uri and Path(model_uri).is_dir():
        return ShoppingGuide.load(model_uri)
    import mlflow
    from mlflow.exceptions import MlflowException

    from fitting_room.tracking.mlflow_runs import configure_mlflow
    from fitting_room.tracking.roles import GUIDE, registered_name

    configure_mlflow(cfg.tracking)
    uri = model_uri or f"models:/{registered_name(GUIDE, cfg.profile)}@champion"
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except MlflowException as err:
        raise DataError(f"model {uri}: cannot be loaded ({str(err).splitlines()[0]})") from None
    found = next((p.parent for p in local.rglob("guide.json")), None)
    if found is None:
        raise DataError(f"model {uri}: no shopping-guide folder (guide.json) inside")
    return ShoppingGuide.load(found)


def mask_implausible(frame: pd.DataFrame, ranges: dict[str, Range]) -> pd.DataFrame:
    """Set values outside the validation stage's plausible ranges to missing (as validation does)."""
    frame = frame.copy()
    for column, bounds in ranges.items():
        if column in frame:
            values = pd.to_numeric(frame[column], errors="coerce")
            frame[column] = values.where((values >= bounds.min) & (values <= bounds.max))
    return frame


def advise_file(guide: ShoppingGuide, data: Path, out: Path, ranges: dict[str, Range]) -> int:
    """Write ``row,p_small,p_fit,p_large,advised_size`` for every line of ``data``, in order.

    Returns:
        The number of rows written.
    """
    from fitting_room.data.clothing_fit import parse_clothing_fit

    if not Path(data).exists():
        raise DataError(f"{data}: file not found")
    frame = mask_implausible(parse_clothing_fit(data), ranges)
    frame["user_id"] = frame["user_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    proba, advised = guide.advisor.advise(frame)
    result = pd.DataFrame(
        {
            "row": frame["row"].to_numpy(dtype=np.int64),
            "p_small": proba[:, 0],
            "p_fit": proba[:, 1],
            "p_large": proba[:, 2],
            "advised_size": advised,
        }
    )
    atomic_write(Path(out), lambda tmp: result.to_csv(tmp, index=False, float_format="%.6g"))
    return len(result)
