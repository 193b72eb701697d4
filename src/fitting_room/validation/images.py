"""Validation of the ingested image splits (``train.npz``, ``test.npz``, ``meta.json``).

Images are summarised into one row per image (shape, dtype, pixel range, moments, label,
content hash) with vectorised numpy, and GX expectations run over those rows: labels in the
class set, pixels in 0..255, finite values, the shape ``meta.json`` announces, enough rows per
split, classes balanced within tolerance, and no test image identical to a train image.
Identical images *within* a split are allowed (real Fashion-MNIST has a few) but counted.

The files are read leniently on purpose: a float array with NaNs must reach the checks and
be reported, not crash a strict loader.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitting_room.config.data import ImageValidationConfig, ValidationConfig
from fitting_room.errors import DataError
from fitting_room.validation.gx_runner import Batch, run_suites
from fitting_room.validation.report import (
    ValidationReport,
    clear_report,
    docs_dir,
    raise_if_failed,
    write_report,
)

SPLITS = ("train", "test")
MOMENT_CHUNK = 8192  # images per float64 block: bounds memory to ~50 MB for 28x28 images


def read_meta(images_dir: Path) -> dict[str, Any]:
    """The ingest stage's ``meta.json``: the announced resolution, channels and class names.

    Raises:
        DataError: the file is missing, not JSON, or lacks one of those keys.
    """
    path = Path(images_dir) / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: missing (run the ingest stage first)") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None
    missing = [k for k in ("resolution", "channels", "class_names") if k not in meta]
    if missing:
        raise DataError(f"{path}: missing key(s) {', '.join(missing)}")
    return meta


def read_split(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``images``, ``labels`` and ``class_names`` of one ``.npz`` split, whatever their dtype.

    Raises:
        DataError: the file is missing or unreadable, lacks an array, or lengths disagree.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("images", "labels", "class_names") if k not in npz.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)}")
            images, labels, names = npz["images"], npz["labels"], npz["class_names"]
    except FileNotFoundError:
        raise DataError(f"{path}: missing (run the ingest stage first)") from None
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable npz ({err})") from None
    if images.ndim < 3 or labels.shape != (len(images),):
        raise DataError(f"{path}: images {images.shape} and labels {labels.shape} do not pair up as (N, ...)")
    return images, labels, [str(n) for n in names]


def image_stats(images: np.ndarray, labels: np.ndarray, split: str) -> pd.DataFrame:
    """One row per image: split, index, shape, dtype, pixel min/max/mean/std, label, NaN/Inf, hash.

    Args:
        images: (N, H, W, C) array of any dtype; (N, H, W) gives ``channels`` 0 (no channel axis).
        labels: (N,) class indices.
        split: name stored in every row.

    Returns:
        A frame indexed by the image's position in its split.
    """
    n = len(images)
    flat = images.reshape(n, -1)
    is_float = np.issubdtype(images.dtype, np.floating)
    mean, std = _row_moments(flat)
    frame = pd.DataFrame(
        {
            "split": split,
            "index": np.arange(n, dtype=np.int64),
            "height": images.shape[1],
            "width": images.shape[2],
            "channels": images.shape[3] if images.ndim == 4 else 0,
            "dtype": str(images.dtype),
            "min": flat.min(axis=1).astype(np.float64) if n else np.empty(0),
            "max": flat.max(axis=1).astype(np.float64) if n else np.empty(0),
            "mean": mean,
            "std": std,
            "label": np.asarray(labels).astype(np.int64, copy=False),
            "has_nan": np.isnan(flat).any(axis=1) if is_float else np.zeros(n, dtype=bool),
            "has_inf": np.isinf(flat).any(axis=1) if is_float else np.zeros(n, dtype=bool),
            "hash": _row_hashes(flat),
        }
    )
    return frame.set_index(pd.Index(frame["index"].to_numpy(), name="image"))


def find_leaks(train: pd.DataFrame, test: pd.DataFrame) -> pd.Series:
    """For each test image, ``train[i]`` when an identical train image exists, else missing."""
    first_in_train = train.drop_duplicates("hash").set_index("hash")["index"]
    hit = test["hash"].map(first_in_train)
    return hit.map(lambda i: f"train[{int(i)}]", na_action="ignore").astype(object)


def class_balance(frames: dict[str, pd.DataFrame], class_names: list[str]) -> pd.DataFrame:
    """Per split and class: count, share and ``ratio`` = share / uniform share (1.0 is balanced).

    Classes with no image get a row with ratio 0, so a vanished class fails loudly.
    Labels outside the class set are left out here; the label check reports them.
    """
    k = len(class_names)
    rows = []
    for split, frame in frames.items():
        labels = frame["label"].to_numpy()
        counts = np.bincount(labels[(labels >= 0) & (labels < k)], minlength=k)
        total = max(int(counts.sum()), 1)
        for label, (name, count) in enumerate(zip(class_names, counts, strict=True)):
            share = count / total
            rows.append((f"{split}/{name}", split, label, name, int(count), share, share * k))
    table = pd.DataFrame(rows, columns=["key", "split", "label", "class_name", "count", "share", "ratio"])
    return table.set_index("key")


def split_expectations(
    split: str, meta: dict[str, Any], cfg: ImageValidationConfig, with_leakage: bool
) -> list[Any]:
    """The GX expectations over one split's :func:`image_stats` rows."""
    import great_expectations as gx

    E = gx.expectations
    min_rows = cfg.min_train_rows if split == "train" else cfg.min_test_rows
    checks = [
        E.ExpectTableRowCountToBeBetween(min_value=min_rows),
        E.ExpectColumnValuesToBeInSet(column="label", value_set=list(range(len(meta["class_names"])))),
        E.ExpectColumnValuesToBeInSet(column="height", value_set=[int(meta["resolution"])]),
        E.ExpectColumnValuesToBeInSet(column="width", value_set=[int(meta["resolution"])]),
        E.ExpectColumnValuesToBeInSet(column="channels", value_set=[int(meta["channels"])]),
        E.ExpectColumnValuesToBeInSet(column="dtype", value_set=["uint8"]),
        E.ExpectColumnValuesToBeBetween(column="min", min_value=0, max_value=255),
        E.ExpectColumnValuesToBeBetween(column="max", min_value=0, max_value=255),
        E.ExpectColumnValuesToBeInSet(column="has_nan", value_set=[False]),
        E.ExpectColumnValuesToBeInSet(column="has_inf", value_set=[False]),
    ]
    if with_leakage:
        checks.append(E.ExpectColumnValuesToBeNull(column="leaked_from_train"))
    return checks


def balance_expectations(cfg: ImageValidationConfig) -> list[Any]:
    """Each class's share within ``class_balance_tolerance`` of uniform, in every split."""
    import great_expectations as gx

    tol = cfg.class_balance_tolerance
    return [
        gx.expectations.ExpectColumnValuesToBeBetween(column="ratio", min_value=1 - tol, max_value=1 + tol)
    ]


def validate_images(images_dir: Path, cfg: ValidationConfig) -> ValidationReport:
    """Stage: validate ``images_dir/{train,test}.npz`` against ``meta.json`` and the config.

    Writes ``<reports_dir>/images.json`` (also on failure) and Data Docs under
    ``<reports_dir>/images_data_docs/``.

    Args:
        images_dir: the ingest output folder.
        cfg: the ``validation`` config section.

    Returns:
        The report of a passing validation.

    Raises:
        DataError: a file is missing or unreadable.
        ValidationFailed: an expectation failed; the message lists each one.
    """
    images_dir = Path(images_dir)
    clear_report(cfg.reports_dir, "images")
    meta = read_meta(images_dir)
    frames = {}
    for split in SPLITS:
        path = images_dir / f"{split}.npz"
        images, labels, names = read_split(path)
        if names != list(meta["class_names"]):
            raise DataError(f"{path}: class_names {names} differ from meta.json {meta['class_names']}")
        frames[split] = image_stats(images, labels, split)
    leak_check = cfg.images.check_leakage
    if leak_check:
        frames["test"]["leaked_from_train"] = find_leaks(frames["train"], frames["test"])
    balance = class_balance(frames, list(meta["class_names"]))
    batches = [
        Batch(f"images_{s}", frames[s], split_expectations(s, meta, cfg.images, leak_check and s == "test"))
        for s in SPLITS
    ]
    batches.append(Batch("images_class_balance", balance, balance_expectations(cfg.images)))
    docs = docs_dir(cfg.reports_dir, "images")
    suites = run_suites(batches, docs, cfg.sample_failures)
    counts: dict[str, int | float] = {f"{s}_rows": len(frames[s]) for s in SPLITS}
    counts |= {f"{s}_duplicates": int(frames[s]["hash"].duplicated().sum()) for s in SPLITS}
    counts["leaked_test_images"] = int(frames["test"]["leaked_from_train"].notna().sum()) if leak_check else 0
    counts["failed_expectations"] = sum(len(s.failures) for s in suites)
    report = ValidationReport(
        stage="images",
        success=all(s.success for s in suites),
        counts=counts,
        suites=suites,
        details={"class_counts": _class_counts(balance)},
        docs_index=docs / "index.html",
    )
    return raise_if_failed(report, write_report(report, cfg.reports_dir))


def _class_counts(balance: pd.DataFrame) -> dict[str, dict[str, int]]:
    return {
        split: dict(zip(part["class_name"], part["count"].astype(int).tolist(), strict=True))
        for split, part in balance.groupby("split", sort=False)
    }


def _row_moments(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row mean and std in float64, a block at a time (a full float64 copy would be ~8x)."""
    n = len(flat)
    mean, std = np.empty(n), np.empty(n)
    for start in range(0, n, MOMENT_CHUNK):
        block = flat[start : start + MOMENT_CHUNK].astype(np.float64)
        with np.errstate(invalid="ignore"):  # inf pixels give NaN moments; the has_inf check reports them
            mean[start : start + len(block)] = block.mean(axis=1)
            std[start : start + len(block)] = block.std(axis=1)
    return mean, std


def _row_hashes(flat: np.ndarray) -> np.ndarray:
    """BLAKE2b of each image's bytes (the loop is per image, never per pixel)."""
    flat = np.ascontiguousarray(flat)
    return np.array(
        [hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in flat], dtype=object
    )
