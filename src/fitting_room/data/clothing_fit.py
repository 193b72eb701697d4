"""Clothing-Fit JSON lines (RentTheRunway and ModCloth, Misra et al. 2018) -> typed frame.

Both retailers publish one JSON object per line with strings in imperial units; this
module turns them into the shoppers contract (SI units, float64 with NaN for missing,
``str`` with nulls, ``datetime64[ns]`` dates). Values that are merely implausible (an age
of 116) are kept as published: deciding plausibility is the validation stage's job.
Values that cannot be parsed at all are an error naming file, line and field, because a
format change upstream should stop the pipeline rather than quietly become missing data.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import math
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from fitting_room.config.data import ShopperSource
from fitting_room.data.download import download_file
from fitting_room.data.units import (
    parse_bust_size,
    parse_cup_index,
    parse_fit,
    parse_height_cm,
    parse_inches_cm,
    parse_number,
    parse_review_date,
    parse_weight_kg,
)
from fitting_room.errors import DataError

log = logging.getLogger(__name__)

FLOAT_COLUMNS = (
    "size", "rating", "quality", "height_cm", "weight_kg", "age_years", "bust_band_cm",
    "cup_index", "waist_cm", "hips_cm", "bust_cm", "shoe_size",
)  # fmt: skip
STR_COLUMNS = (
    "source", "user_id", "item_id", "fit", "rented_for", "body_type", "category", "cup_size",
    "shoe_width", "length",
)  # fmt: skip
COLUMNS = (
    "source", "row", "user_id", "item_id", "fit", "size", "rating", "quality", "rented_for",
    "body_type", "category", "height_cm", "weight_kg", "age_years", "bust_band_cm", "cup_index",
    "cup_size", "waist_cm", "hips_cm", "bust_cm", "shoe_size", "shoe_width", "length", "review_date",
)  # fmt: skip
MODCLOTH_KEYS = frozenset({"quality", "cup size", "bra size", "length", "shoe size", "shoe width", "hips"})
SNIPPET = 80
# records per frame of iter_clothing_fit: the parsed Python values of one chunk (~1 KB a row)
# are all ingest holds at once, so its memory stays flat whatever the file size
# (docs/scaling.md); large enough that per-chunk overhead is lost in the noise
CHUNK_ROWS = 100_000


def _text(value: Any) -> str | None:
    text = str(value).strip()
    return text or None


def _cup(value: Any) -> tuple[float, str]:
    cup = str(value).strip().lower()
    return parse_cup_index(cup), cup


# JSON key -> (columns it fills, parser returning one value or a tuple for several columns)
FIELDS: dict[str, tuple[tuple[str, ...], Callable[[Any], Any]]] = {
    "user_id": (("user_id",), _text),
    "item_id": (("item_id",), _text),
    "fit": (("fit",), parse_fit),
    "size": (("size",), parse_number),
    "rating": (("rating",), parse_number),
    "quality": (("quality",), parse_number),
    "rented for": (("rented_for",), _text),
    "body type": (("body_type",), _text),
    "category": (("category",), _text),
    "height": (("height_cm",), parse_height_cm),
    "weight": (("weight_kg",), parse_weight_kg),
    "age": (("age_years",), parse_number),
    "bust size": (("bust_band_cm", "cup_index", "cup_size"), parse_bust_size),
    "bra size": (("bust_band_cm",), parse_inches_cm),
    "cup size": (("cup_index", "cup_size"), _cup),
    "waist": (("waist_cm",), parse_inches_cm),
    "hips": (("hips_cm",), parse_inches_cm),
    "bust": (("bust_cm",), parse_inches_cm),
    "shoe size": (("shoe_size",), parse_number),
    "shoe width": (("shoe_width",), _text),
    "length": (("length",), _text),
    "review_date": (("review_date",), parse_review_date),
}
DATA_COLUMNS = tuple(c for c in COLUMNS if c not in ("source", "row"))
MISSING = {c: (math.nan if c in FLOAT_COLUMNS else None) for c in DATA_COLUMNS}


def parse_clothing_fit(
    path: str | Path, source: str | None = None, max_rows: int | None = None
) -> pd.DataFrame:
    """Parse a Clothing-Fit JSON-lines file (plain or gzipped) into the shoppers schema.

    The whole file as one frame; :func:`iter_clothing_fit` yields it in bounded chunks.

    Args:
        path: the ``.json`` or ``.json.gz`` file; every field is optional per line.
        source: ``renttherunway`` or ``modcloth``; None = guessed from the first record's
            keys (ModCloth-only keys such as ``quality`` or ``cup size``).
        max_rows: stop after this many records; None = all.

    Returns:
        One row per record with the columns of :data:`COLUMNS`; ``row`` is the 0-based
        line index in the file.

    Raises:
        DataError: naming file and 1-based line for malformed JSON, a non-object line,
            an unparseable value (with its field) or an unknown fit label.
    """
    frames = list(iter_clothing_fit(path, source, max_rows))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def iter_clothing_fit(
    path: str | Path, source: str | None = None, max_rows: int | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """:func:`parse_clothing_fit` as consecutive frames of at most ``chunk_rows`` rows.

    Every frame has the same columns and dtypes, and ``row`` keeps counting lines across
    frames; an empty file yields one empty frame. Errors are raised when their line is reached,
    so a caller writing frames as they come must discard what it wrote (ingest stages them).
    """
    path = Path(path)
    columns: dict[str, list] = {c: [] for c in ("row", *DATA_COLUMNS)}
    appenders = [(c, columns[c].append) for c in DATA_COLUMNS]
    append_row = columns["row"].append
    yielded = False
    for lineno, record in _records(path, max_rows):
        if source is None:
            source = "modcloth" if MODCLOTH_KEYS & record.keys() else "renttherunway"
        values: dict[str, Any] = {}
        for key, value in record.items():
            spec = FIELDS.get(key)
            if spec is None or value is None:
                continue  # review text, user names and other unused keys
            names, parser = spec
            try:
                parsed = parser(value)
            except ValueError as err:
                where = f"{path}, line {lineno}, field {key!r}"
                raise DataError(f"{where}: cannot parse {value!r} ({err})") from None
            if len(names) == 1:
                values[names[0]] = parsed
            else:
                values.update(zip(names, parsed, strict=True))
        append_row(lineno - 1)
        for name, append in appenders:
            append(values.get(name, MISSING[name]))
        if len(columns["row"]) >= chunk_rows:
            yield _to_frame(columns, source)
            yielded = True
            for values_list in columns.values():
                values_list.clear()
    if columns["row"] or not yielded:
        yield _to_frame(columns, source or "renttherunway")


def _records(path: Path, max_rows: int | None) -> Iterator[tuple[int, dict]]:
    """Yield (1-based line number, record) for non-blank lines, raising on bad JSON."""
    count = 0
    lineno = 0
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if max_rows is not None and count >= max_rows:
                    return
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as err:
                    snippet = line.strip()[:SNIPPET]
                    raise DataError(f"{path}, line {lineno}: malformed JSON ({err}): {snippet!r}") from None
                if not isinstance(record, dict):
                    kind = type(record).__name__
                    raise DataError(f"{path}, line {lineno}: expected a JSON object, got {kind}")
                count += 1
                yield lineno, record
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as err:
        raise DataError(f"{path}, after line {lineno}: corrupt or truncated file ({err})") from None


def _open_text(path: Path) -> TextIO:
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _to_frame(columns: dict[str, list], source: str) -> pd.DataFrame:
    n = len(columns["row"])
    data: dict[str, Any] = {"source": pd.Series([source] * n, dtype="str")}
    data["row"] = np.asarray(columns["row"], dtype=np.int64)
    for name in DATA_COLUMNS:
        if name in FLOAT_COLUMNS:
            data[name] = np.asarray(columns[name], dtype=np.float64)
        elif name == "review_date":
            data[name] = pd.Series(columns[name], dtype="datetime64[ns]")
        else:
            data[name] = pd.Series(columns[name], dtype="str")
    return pd.DataFrame(data, columns=list(COLUMNS))


def locate_shopper_source(
    src: ShopperSource, download_dir: Path, timeout_s: float = 60.0, progress: bool | None = None
) -> Path | None:
    """The local file of a source: ``path`` if it exists, else a (cached) download of ``url``.

    Returns:
        The file, or None when an optional source (``required: false``) is unavailable.

    Raises:
        DataError: a required source has neither an existing ``path`` nor a ``url``, or the
            download fails.
    """
    if src.path is not None and src.path.is_file():
        return src.path
    if src.url is not None:
        url = str(src.url)
        dest = download_dir / url.rstrip("/").rsplit("/", 1)[-1]
        if dest.is_file():
            return dest
        try:
            return download_file(url, dest, timeout_s=timeout_s, progress=progress)
        except DataError as err:
            if src.required:
                # say why a download was tried at all: most often the local file is not where
                # params point (e.g. ../shared next to another checkout)
                missing = f"path {src.path} does not exist, and the " if src.path is not None else "the "
                raise DataError(
                    f"shopper source {src.name!r}: {missing}{err} (point the source at a local copy "
                    "with --set data.shoppers.sources.N.path=FILE)"
                ) from None
            log.warning("optional shopper source %s skipped: download of %s failed", src.name, url)
            return None
    where = f"path {src.path} does not exist" if src.path is not None else "no path"
    if src.required:
        raise DataError(f"shopper source {src.name!r}: {where} and no url is set")
    log.warning("optional shopper source %s skipped: %s and no url", src.name, where)
    return None
