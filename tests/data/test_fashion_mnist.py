"""Fashion-MNIST is found in the documented order, verified, and read into image splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from data_builders import make_fashion_mnist

from fitting_room.config.data import FashionMnistConfig
from fitting_room.data.fashion_mnist import OFFICIAL_SHA256, STEMS, load_fashion_mnist
from fitting_room.errors import DataError

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def config(tmp_path: Path, **overrides) -> FashionMnistConfig:
    """A config that can never see the real Debian files (system_path is an empty folder)."""
    empty = tmp_path / "no-system-files"
    empty.mkdir(exist_ok=True)
    base = {"system_path": empty, "download_dir": tmp_path / "downloads", "download": False}
    return FashionMnistConfig(**{**base, **overrides})


def test_files_in_path_load_as_28x28x1_splits(tmp_path):
    checksums = make_fashion_mnist(tmp_path / "fm", n_train=30, n_test=10)
    data = load_fashion_mnist(config(tmp_path, path=tmp_path / "fm"), seed=0, checksums=checksums)
    assert data.train.images.shape == (30, 28, 28, 1)
    assert data.test.images.dtype == np.uint8
    assert data.train.labels.dtype == np.int64
    assert data.origin == "path"
    assert set(data.inputs) == set(STEMS)


def test_uncompressed_idx_files_are_accepted(tmp_path):
    checksums = make_fashion_mnist(tmp_path / "fm", gz=False)
    data = load_fashion_mnist(config(tmp_path, path=tmp_path / "fm"), seed=0, checksums=checksums)
    assert len(data.test) == 20


def test_system_path_is_used_when_path_is_unset(tmp_path):
    checksums = make_fashion_mnist(tmp_path / "debian")
    data = load_fashion_mnist(config(tmp_path, system_path=tmp_path / "debian"), seed=0, checksums=checksums)
    assert data.origin == "system_path"


def test_checksum_mismatch_names_the_file_and_both_hashes(tmp_path):
    checksums = make_fashion_mnist(tmp_path / "fm")
    with pytest.raises(DataError) as err:
        load_fashion_mnist(config(tmp_path, path=tmp_path / "fm"), seed=0, checksums=OFFICIAL_SHA256)
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz: SHA-256 mismatch" in message
    assert OFFICIAL_SHA256["train-images-idx3-ubyte"] in message
    assert checksums["train-images-idx3-ubyte"] in message


def test_label_outside_the_ten_classes_is_rejected(tmp_path):
    labels = np.arange(20) % 10
    labels[7] = 12
    checksums = make_fashion_mnist(tmp_path / "fm", n_train=20, train_labels=labels)
    with pytest.raises(
        DataError, match=r"train-labels-idx1-ubyte\.gz: 1 labels outside \[0, 9\] \(row 7: 12\)"
    ):
        load_fashion_mnist(config(tmp_path, path=tmp_path / "fm"), seed=0, checksums=checksums)


def test_max_train_keeps_every_class_in_proportion(tmp_path):
    checksums = make_fashion_mnist(tmp_path / "fm", n_train=100)
    cfg = config(tmp_path, path=tmp_path / "fm", max_train=50)
    data = load_fashion_mnist(cfg, seed=3, checksums=checksums)
    assert len(data.train) == 50
    assert set(data.train.class_counts().values()) == {5}


def test_subsample_is_reproducible_for_a_seed(tmp_path):
    checksums = make_fashion_mnist(tmp_path / "fm", n_train=100)
    cfg = config(tmp_path, path=tmp_path / "fm", max_train=30)
    first = load_fashion_mnist(cfg, seed=1, checksums=checksums).train.item_ids
    again = load_fashion_mnist(cfg, seed=1, checksums=checksums).train.item_ids
    other = load_fashion_mnist(cfg, seed=2, checksums=checksums).train.item_ids
    assert list(first) == list(again)
    assert list(first) != list(other)


def test_missing_files_without_download_name_every_folder_tried(tmp_path):
    cfg = config(tmp_path, path=tmp_path / "nothing-here")
    with pytest.raises(DataError, match=r"nothing-here.*no-system-files.*download is false"):
        load_fashion_mnist(cfg, seed=0, checksums={})


def test_download_fetches_the_gz_files_from_base_url(tmp_path, http_root):
    root, url = http_root
    checksums = make_fashion_mnist(root)
    cfg = config(tmp_path, base_url=url, download=True, timeout_s=10)
    data = load_fashion_mnist(cfg, seed=0, checksums=checksums, progress=False)
    assert data.origin == "download"
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == sorted(f"{s}.gz" for s in STEMS)


def test_previous_downloads_are_reused_without_network(tmp_path, http_root):
    root, url = http_root
    checksums = make_fashion_mnist(root)
    cfg = config(tmp_path, base_url=url, download=True)
    load_fashion_mnist(cfg, seed=0, checksums=checksums, progress=False)
    shutil.rmtree(root)
    assert load_fashion_mnist(cfg, seed=0, checksums=checksums).origin == "download_dir"


def test_download_404_names_the_url_and_leaves_no_partial_file(tmp_path, http_root):
    _, url = http_root
    cfg = config(tmp_path, base_url=url, download=True)
    with pytest.raises(DataError, match=rf"{url}train-images-idx3-ubyte\.gz failed: HTTP 404"):
        load_fashion_mnist(cfg, seed=0, checksums={}, progress=False)
    assert list((tmp_path / "downloads").iterdir()) == []


@pytest.mark.skipif(
    not (DEBIAN / "train-images-idx3-ubyte.gz").exists(), reason="dataset-fashion-mnist not installed"
)
def test_debian_files_match_the_official_checksums(tmp_path):
    data = load_fashion_mnist(config(tmp_path, system_path=DEBIAN), seed=0)
    assert (len(data.train), len(data.test)) == (60_000, 10_000)
    assert set(data.train.class_counts().values()) == {6000}
