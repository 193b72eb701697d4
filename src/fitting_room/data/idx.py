"""Strict reader and writer for IDX files (the Fashion-MNIST/MNIST array format).

An IDX file is a 4-byte magic number (two zero bytes, a dtype byte, the number of
dimensions), one big-endian uint32 per dimension, then the values. Only unsigned bytes
(dtype 0x08) are supported because that is all Fashion-MNIST uses; anything else, a
truncated gzip stream or a length that disagrees with the header fails with a
:class:`DataError` naming the file, rather than silently yielding a short array.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from fitting_room.errors import DataError
from fitting_room.files import atomic_write_bytes

UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
MAX_DIMS = 4


def load_idx_bytes(source: str | Path | bytes, name: str | None = None) -> bytes:
    """Return the decompressed bytes of an IDX file (gzip is detected from its magic bytes).

    Args:
        source: a file path or the file's bytes (gzipped or raw).
        name: how to refer to the input in errors; defaults to the path.

    Returns:
        The raw (uncompressed) IDX bytes.

    Raises:
        DataError: the file is missing, unreadable or a truncated/corrupt gzip stream.
    """
    name = name or str(source if not isinstance(source, bytes) else "<bytes>")
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as err:
            raise DataError(f"{name}: cannot read IDX file ({err.strerror or err})") from None
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as err:
        raise DataError(f"{name}: corrupt or truncated gzip stream ({err})") from None


def parse_idx(data: bytes, name: str, ndim: int | None = None) -> np.ndarray:
    """Parse raw IDX bytes into a read-only uint8 array, checking header and length.

    Args:
        data: uncompressed IDX bytes.
        name: how to refer to the input in errors (usually the file path).
        ndim: the expected number of dimensions (3 for images, 1 for labels); None = any.

    Returns:
        A uint8 array with the declared shape.

    Raises:
        DataError: wrong magic number, unsupported dtype, wrong dimension count, or a
            payload shorter/longer than the header declares.
    """
    if len(data) < 4:
        raise DataError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    zero0, zero1, dtype, dims = data[0], data[1], data[2], data[3]
    magic = int.from_bytes(data[:4], "big")
    if zero0 or zero1 or not 1 <= dims <= MAX_DIMS:
        raise DataError(f"{name}: not an IDX file (magic number 0x{magic:08x})")
    if dtype != UBYTE:
        raise DataError(f"{name}: unsupported IDX dtype byte 0x{dtype:02x} (only 0x08 unsigned bytes)")
    if ndim is not None and dims != ndim:
        expected = (UBYTE << 8) | ndim
        raise DataError(
            f"{name}: wrong magic number 0x{magic:08x}, expected 0x{expected:08x} ({ndim}-d array)"
        )
    header = 4 + 4 * dims
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header ({len(data)} of {header} bytes)")
    shape = struct.unpack(f">{dims}I", data[4:header])
    declared = int(np.prod(shape, dtype=np.int64))
    actual = len(data) - header
    if actual != declared:
        raise DataError(
            f"{name}: IDX header declares shape {shape} ({declared:,} values) "
            f"but the file holds {actual:,} values"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(source: str | Path | bytes, name: str | None = None, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or raw) from a path or bytes; see :func:`parse_idx`."""
    name = name or str(source if not isinstance(source, bytes) else "<bytes>")
    return parse_idx(load_idx_bytes(source, name), name, ndim)


def encode_idx(array: np.ndarray) -> bytes:
    """Serialise a uint8 array as IDX bytes (the inverse of :func:`parse_idx`)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX arrays must be uint8, got {array.dtype}")
    if not 1 <= array.ndim <= MAX_DIMS:
        raise ValueError(f"IDX arrays must have 1..{MAX_DIMS} dimensions, got {array.ndim}")
    header = bytes([0, 0, UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(array: np.ndarray, path: str | Path, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, gzipped when ``compress`` (default: path ends in .gz).

    The file is written to a temporary sibling and renamed, so readers never see half a file.
    """
    path = Path(path)
    compress = path.suffix == ".gz" if compress is None else compress
    data = encode_idx(array)
    return atomic_write_bytes(path, gzip.compress(data, mtime=0) if compress else data)
