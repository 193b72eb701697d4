"""The ingest stages write the data contracts, all or nothing."""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
from data_builders import MODCLOTH_LINE, RTR_LINE, make_fashion_mnist, write_jsonl

import fitting_room.data.ingest as ingest_module
from fitting_room.config.data import FashionMnistConfig, ImagesConfig, ShoppersConfig, ShopperSource
from fitting_room.data.clothing_fit import COLUMNS, iter_clothing_fit, parse_clothing_fit
from fitting_room.data.images import read_images_npz
from fitting_room.data.ingest import ingest_images, ingest_shoppers
from fitting_room.errors import DataError


@pytest.fixture
def fashion(tmp_path):
    """Synthetic Fashion-MNIST files, an images config pointing at them, and their checksums."""
    checksums = make_fashion_mnist(tmp_path / "fm", n_train=50, n_test=20)
    empty = tmp_path / "empty"
    empty.mkdir()
    fm = FashionMnistConfig(path=tmp_path / "fm", system_path=empty, download=False, max_train=30)
    return ImagesConfig(fashion_mnist=fm, out_dir=tmp_path / "images"), checksums


def test_fashion_mnist_ingest_writes_the_npz_contract(fashion):
    cfg, checksums = fashion
    result = ingest_images(cfg, seed=0, checksums=checksums)
    with np.load(cfg.out_dir / "train.npz", allow_pickle=False) as npz:
        assert {"images", "labels", "class_names"} <= set(npz.files)
        assert (npz["images"].shape, npz["images"].dtype) == ((30, 28, 28, 1), np.uint8)
        assert npz["labels"].dtype == np.int64
        assert npz["class_names"].tolist()[3] == "dress"
    assert (result.train_rows, result.test_rows, result.num_classes) == (30, 20, 10)


def test_ingested_split_reads_back_identical(fashion):
    cfg, checksums = fashion
    ingest_images(cfg, seed=0, checksums=checksums)
    first = read_images_npz(cfg.out_dir / "test.npz")
    ingest_images(cfg, seed=0, checksums=checksums)
    again = read_images_npz(cfg.out_dir / "test.npz")
    assert np.array_equal(first.images, again.images) and np.array_equal(first.labels, again.labels)
    assert list(first.item_ids) == list(again.item_ids)


def test_meta_records_source_counts_and_input_hashes(fashion):
    cfg, checksums = fashion
    ingest_images(cfg, seed=0, checksums=checksums)
    meta = json.loads((cfg.out_dir / "meta.json").read_text())
    assert (meta["source"], meta["resolution"], meta["channels"]) == ("fashion_mnist", 28, 1)
    assert meta["counts"] == {"train": 30, "test": 20, "quarantined": 0}
    assert {k: v["sha256"] for k, v in meta["inputs"].items()} == checksums
    assert sum(meta["class_counts"]["train"].values()) == 30


def test_failed_ingest_keeps_the_previous_outputs(fashion, tmp_path):
    cfg, checksums = fashion
    ingest_images(cfg, seed=0, checksums=checksums)
    before = {p.name: p.read_bytes() for p in cfg.out_dir.iterdir()}
    make_fashion_mnist(tmp_path / "fm", n_train=50, n_test=20, seed=99)  # content changed upstream
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        ingest_images(cfg, seed=0, checksums=checksums)
    assert {p.name: p.read_bytes() for p in cfg.out_dir.iterdir()} == before


def shoppers_config(tmp_path, *sources: ShopperSource, **kw) -> ShoppersConfig:
    return ShoppersConfig(sources=list(sources), out_dir=tmp_path / "shoppers", **kw)


def test_shoppers_ingest_concatenates_sources_into_the_parquet_contract(tmp_path):
    rtr = write_jsonl(tmp_path / "rtr.json.gz", [RTR_LINE, {**RTR_LINE, "user_id": "2"}])
    mod = write_jsonl(tmp_path / "modcloth.json", [MODCLOTH_LINE])
    cfg = shoppers_config(
        tmp_path, ShopperSource(name="renttherunway", path=rtr), ShopperSource(name="modcloth", path=mod)
    )
    result = ingest_shoppers(cfg)
    table = pd.read_parquet(cfg.out_dir / "transactions.parquet")
    assert list(table.columns) == list(COLUMNS)
    assert table["source"].tolist() == ["renttherunway", "renttherunway", "modcloth"]
    assert table["row"].tolist() == [0, 1, 0]
    assert table["review_date"].dtype == "datetime64[ns]"
    assert result.rows_per_source == {"renttherunway": 2, "modcloth": 1}


def test_parquet_round_trip_preserves_the_parsed_frame(tmp_path):
    rtr = write_jsonl(tmp_path / "rtr.json", [RTR_LINE, {"item_id": "9", "fit": "small"}])
    cfg = shoppers_config(tmp_path, ShopperSource(name="renttherunway", path=rtr))
    ingest_shoppers(cfg)
    expected = parse_clothing_fit(rtr, source="renttherunway")
    pd.testing.assert_frame_equal(pd.read_parquet(cfg.out_dir / "transactions.parquet"), expected)


def test_shoppers_meta_records_rows_and_file_hashes(tmp_path):
    rtr = write_jsonl(tmp_path / "rtr.json", [RTR_LINE] * 4)
    cfg = shoppers_config(tmp_path, ShopperSource(name="renttherunway", path=rtr), max_rows=3)
    ingest_shoppers(cfg)
    meta = json.loads((cfg.out_dir / "meta.json").read_text())
    assert meta["rows"] == 3
    assert meta["sources"]["renttherunway"]["rows"] == 3
    assert len(meta["sources"]["renttherunway"]["sha256"]) == 64


def test_malformed_source_fails_without_touching_previous_outputs(tmp_path):
    rtr = write_jsonl(tmp_path / "rtr.json", [RTR_LINE])
    cfg = shoppers_config(tmp_path, ShopperSource(name="renttherunway", path=rtr))
    ingest_shoppers(cfg)
    before = (cfg.out_dir / "transactions.parquet").read_bytes()
    write_jsonl(rtr, [RTR_LINE, "{not json"])
    with pytest.raises(DataError, match=r"rtr\.json, line 2: malformed JSON"):
        ingest_shoppers(cfg)
    assert (cfg.out_dir / "transactions.parquet").read_bytes() == before


def test_only_optional_missing_sources_means_no_transactions(tmp_path):
    src = ShopperSource(name="modcloth", path=tmp_path / "absent.json", required=False)
    with pytest.raises(DataError, match=r"data\.shoppers\.sources \(modcloth\): no transactions were read"):
        ingest_shoppers(shoppers_config(tmp_path, src))
    assert not (tmp_path / "shoppers").exists()


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Ingest streams 2-row chunks, so a few lines already span several parquet row groups."""
    monkeypatch.setattr(
        ingest_module, "iter_clothing_fit", functools.partial(iter_clothing_fit, chunk_rows=2)
    )


def test_streamed_ingest_writes_row_groups_that_read_back_as_the_parsed_frames(tmp_path, tiny_chunks):
    import pyarrow.parquet as pq

    rtr = write_jsonl(tmp_path / "rtr.json", [RTR_LINE, {"item_id": "9", "fit": "small"}, RTR_LINE])
    mod = write_jsonl(tmp_path / "modcloth.json", [MODCLOTH_LINE] * 3)
    cfg = shoppers_config(
        tmp_path, ShopperSource(name="renttherunway", path=rtr), ShopperSource(name="modcloth", path=mod)
    )
    result = ingest_shoppers(cfg)
    path = cfg.out_dir / "transactions.parquet"
    assert pq.ParquetFile(path).num_row_groups == 4
    expected = pd.concat(
        [parse_clothing_fit(rtr, source="renttherunway"), parse_clothing_fit(mod, source="modcloth")],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(pd.read_parquet(path), expected)
    assert result.rows == 6


def test_an_error_after_some_streamed_chunks_keeps_the_previous_outputs(tmp_path, tiny_chunks):
    rtr = write_jsonl(tmp_path / "rtr.json", [RTR_LINE])
    cfg = shoppers_config(tmp_path, ShopperSource(name="renttherunway", path=rtr))
    ingest_shoppers(cfg)
    before = {p.name: p.read_bytes() for p in cfg.out_dir.iterdir()}
    write_jsonl(rtr, [RTR_LINE] * 5 + ["{not json"])  # two chunks are written before line 6 fails
    with pytest.raises(DataError, match=r"rtr\.json, line 6: malformed JSON"):
        ingest_shoppers(cfg)
    assert {p.name: p.read_bytes() for p in cfg.out_dir.iterdir()} == before
