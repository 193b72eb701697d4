"""The IDX reader accepts exactly what the format declares and names the file otherwise."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from fitting_room.data.idx import encode_idx, read_idx, write_idx
from fitting_room.errors import DataError


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_written_idx_reads_back_identical(tmp_path, suffix):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    path = write_idx(images, tmp_path / f"images-idx3-ubyte{suffix}")
    assert np.array_equal(read_idx(path, ndim=3), images)


def test_labels_round_trip_from_bytes():
    labels = np.arange(10, dtype=np.uint8)
    assert np.array_equal(read_idx(encode_idx(labels), "labels", ndim=1), labels)


def test_truncated_gzip_names_the_file(tmp_path):
    data = gzip.compress(encode_idx(np.zeros((50, 28, 28), np.uint8)))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*truncated"):
        read_idx(path)


def test_labels_file_where_images_expected_reports_wrong_magic(tmp_path):
    path = write_idx(np.zeros(10, np.uint8), tmp_path / "t10k-images-idx3-ubyte")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: wrong magic number 0x00000801.*0x00000803"):
        read_idx(path, ndim=3)


def test_garbled_bytes_are_not_an_idx_file(tmp_path):
    path = tmp_path / "garbage-idx1-ubyte"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="garbage-idx1-ubyte: not an IDX file"):
        read_idx(path)


def test_non_byte_dtype_is_rejected():
    data = bytearray(encode_idx(np.zeros(4, np.uint8)))
    data[2] = 0x0D  # float32
    with pytest.raises(DataError, match="unsupported IDX dtype byte 0x0d"):
        read_idx(bytes(data), "floats")


@pytest.mark.parametrize("delta", [-1, +1])
def test_payload_length_must_match_the_header(tmp_path, delta):
    data = encode_idx(np.zeros((3, 28, 28), np.uint8))
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(data[:-1] if delta < 0 else data + b"\x00")
    with pytest.raises(DataError, match=r"short-idx3-ubyte: IDX header declares shape \(3, 28, 28\)"):
        read_idx(path, ndim=3)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="nowhere-idx1-ubyte: cannot read"):
        read_idx(tmp_path / "nowhere-idx1-ubyte")
