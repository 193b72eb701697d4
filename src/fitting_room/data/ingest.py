"""The two ingest stages: raw sources in, contract artifacts out (all or nothing).

``ingest_images`` writes ``train.npz``, ``test.npz`` and ``meta.json`` (plus
``quarantine.csv`` for catalogs); ``ingest_shoppers`` writes ``transactions.parquet`` and
``meta.json``. Each stage stages its files in a temporary folder and moves them into
``out_dir`` only when everything succeeded, so a failure keeps the previous outputs. The
returned dataclasses hold the counts and timings the CLI logs to MLflow.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fitting_room.config.data import ImagesConfig, ShoppersConfig
from fitting_room.data.catalog import load_catalog, quarantine_csv
from fitting_room.data.clothing_fit import COLUMNS, iter_clothing_fit, locate_shopper_source
from fitting_room.data.fashion_mnist import OFFICIAL_SHA256, load_fashion_mnist
from fitting_room.data.images import ImageSplit, write_images_npz
from fitting_room.errors import DataError
from fitting_room.files import atomic_write_text, sha256_file, staged_outputs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImagesIngestResult:
    """What ``ingest_images`` wrote; numeric fields are logged as MLflow metrics."""

    out_dir: Path
    source: str
    train_rows: int
    test_rows: int
    num_classes: int
    quarantined: int
    seconds: float

    def metrics(self) -> dict[str, float]:
        """Counts and timings for MLflow (``images_per_second`` over both splits)."""
        rows = self.train_rows + self.test_rows
        return {
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "num_classes": self.num_classes,
            "quarantined": self.quarantined,
            "seconds": self.seconds,
            "images_per_second": rows / self.seconds if self.seconds > 0 else 0.0,
        }


@dataclass(frozen=True)
class ShoppersIngestResult:
    """What ``ingest_shoppers`` wrote; numeric fields are logged as MLflow metrics."""

    out_dir: Path
    rows: int
    rows_per_source: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def metrics(self) -> dict[str, float]:
        """Counts and timings for MLflow (one ``rows_<source>`` per source)."""
        out = {"rows": self.rows, "seconds": self.seconds}
        out["rows_per_second"] = self.rows / self.seconds if self.seconds > 0 else 0.0
        out.update({f"rows_{name}": n for name, n in self.rows_per_source.items()})
        return out


def ingest_images(
    cfg: ImagesConfig,
    seed: int,
    checksums: Mapping[str, str] = OFFICIAL_SHA256,
    progress: bool | None = None,
) -> ImagesIngestResult:
    """Ingest the configured image source into ``cfg.out_dir``.

    Args:
        cfg: the ``data.images`` section.
        seed: seed of subsampling (Fashion-MNIST) or the train/test split (catalog).
        checksums: expected SHA-256 of the decompressed Fashion-MNIST files (tests pass a
            table for their synthetic files).
        progress: show download progress bars; None = only on a terminal.

    Returns:
        Counts and timing of what was written.

    Raises:
        DataError: missing/corrupt input, checksum mismatch, or too many quarantined images;
            ``cfg.out_dir`` is then left as it was.
    """
    start = time.perf_counter()
    quarantine_report = None
    if cfg.source == "fashion_mnist":
        mnist = load_fashion_mnist(cfg.fashion_mnist, seed, checksums, progress)
        train, test, origin, inputs, quarantined = mnist.train, mnist.test, mnist.origin, mnist.inputs, 0
    else:
        catalog = load_catalog(cfg.catalog, cfg.resolution, cfg.channels, seed)
        train, test, origin, inputs = catalog.train, catalog.test, "catalog", catalog.inputs
        quarantined, quarantine_report = len(catalog.quarantined), quarantine_csv(catalog.quarantined)
    meta = {
        "source": cfg.source,
        "origin": origin,
        "class_names": list(train.class_names),
        "resolution": cfg.resolution,
        "channels": cfg.channels,
        "counts": {"train": len(train), "test": len(test), "quarantined": quarantined},
        "class_counts": {"train": train.class_counts(), "test": test.class_counts()},
        "seed": seed,
        "inputs": inputs,
    }
    _check_shape(train, cfg)
    with staged_outputs(cfg.out_dir) as stage:
        write_images_npz(train, stage / "train.npz")
        write_images_npz(test, stage / "test.npz")
        if quarantine_report is not None:
            atomic_write_text(stage / "quarantine.csv", quarantine_report)
        _write_json(meta, stage / "meta.json")
    seconds = time.perf_counter() - start
    log.info("ingested %d train + %d test images into %s", len(train), len(test), cfg.out_dir)
    return ImagesIngestResult(
        cfg.out_dir, cfg.source, len(train), len(test), len(train.class_names), quarantined, seconds
    )


def ingest_shoppers(cfg: ShoppersConfig, progress: bool | None = None) -> ShoppersIngestResult:
    """Parse every configured Clothing-Fit source into ``cfg.out_dir/transactions.parquet``.

    Args:
        cfg: the ``data.shoppers`` section (sources are read in order and concatenated).
        progress: show download progress bars; None = only on a terminal.

    Returns:
        Row counts per source and timing.

    Raises:
        DataError: a required source is missing or a file is malformed (naming file/line/field),
            or no rows at all were read; ``cfg.out_dir`` is then left as it was.
    """
    start = time.perf_counter()
    sources: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, int] = {}
    # streamed: each parsed chunk becomes a parquet row group at once, so memory stays at one
    # chunk whatever the data size (docs/scaling.md); an error discards the staged file
    with staged_outputs(cfg.out_dir) as stage, _ParquetSink(stage / "transactions.parquet") as sink:
        for src in cfg.sources:
            path = locate_shopper_source(src, cfg.download_dir, cfg.timeout_s, progress)
            if path is None:
                continue
            rows = 0
            for frame in iter_clothing_fit(path, source=src.name, max_rows=cfg.max_rows):
                sink.write(frame[list(COLUMNS)])
                rows += len(frame)
            sources[src.name] = {"file": str(path), "sha256": sha256_file(path), "rows": rows}
            rows_of[src.name] = rows
            log.info("parsed %d rows of %s from %s", rows, src.name, path)
        total = sum(rows_of.values())
        if not total:
            names = ", ".join(s.name for s in cfg.sources)
            raise DataError(f"data.shoppers.sources ({names}): no transactions were read")
        meta = {"rows": total, "columns": list(COLUMNS), "max_rows": cfg.max_rows, "sources": sources}
        _write_json(meta, stage / "meta.json")
    seconds = time.perf_counter() - start
    return ShoppersIngestResult(cfg.out_dir, total, rows_of, seconds)


class _ParquetSink:
    """Frames of one schema appended to a parquet file as row groups (the first fixes the schema)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: Any = None  # a pyarrow ParquetWriter, opened by the first frame

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        elif table.schema != self.writer.schema:
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)

    def __enter__(self) -> _ParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()


def _check_shape(split: ImageSplit, cfg: ImagesConfig) -> None:
    expected = (cfg.resolution, cfg.resolution, cfg.channels)
    if len(split) and split.images.shape[1:] != expected:
        raise DataError(
            f"data.images: ingested images are {split.images.shape[1:]} but resolution/channels ask "
            f"for {expected}"
        )


def _write_json(doc: dict, path: Path) -> None:
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def result_dict(result: ImagesIngestResult | ShoppersIngestResult) -> dict:
    """A JSON-friendly view of a result (for CLI output and benchmarks)."""
    return json.loads(json.dumps(asdict(result), default=str))
