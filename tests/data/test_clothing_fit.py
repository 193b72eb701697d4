"""Clothing-Fit JSON lines (RTR and ModCloth) parse into the typed shoppers contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_builders import MODCLOTH_LINE, RTR_LINE, write_jsonl

from fitting_room.config.data import ShopperSource
from fitting_room.data.clothing_fit import (
    COLUMNS,
    FLOAT_COLUMNS,
    iter_clothing_fit,
    locate_shopper_source,
    parse_clothing_fit,
)
from fitting_room.errors import DataError


@pytest.mark.parametrize("name", ["rtr.json", "rtr.json.gz"])
def test_rtr_line_parses_to_si_units_from_plain_or_gzip(tmp_path, name):
    frame = parse_clothing_fit(write_jsonl(tmp_path / name, [RTR_LINE]))
    row = frame.iloc[0]
    assert row["source"] == "renttherunway"
    assert (row["user_id"], row["item_id"], row["fit"]) == ("420272", "2260466", "fit")
    assert row["height_cm"] == pytest.approx(172.72)
    assert row["weight_kg"] == pytest.approx(62.142, abs=1e-3)
    assert (row["bust_band_cm"], row["cup_index"], row["cup_size"]) == (pytest.approx(86.36), 4.0, "d")
    assert (row["rating"], row["size"], row["age_years"]) == (10.0, 14.0, 28.0)
    assert (row["rented_for"], row["body_type"], row["category"]) == ("vacation", "hourglass", "romper")
    assert row["review_date"] == pd.Timestamp("2016-04-20")
    assert np.isnan(row["quality"])


def test_modcloth_line_parses_inches_cups_and_shoe_fields(tmp_path):
    frame = parse_clothing_fit(write_jsonl(tmp_path / "modcloth.json", [MODCLOTH_LINE]))
    row = frame.iloc[0]
    assert row["source"] == "modcloth"
    assert row["height_cm"] == pytest.approx(167.64)
    assert (row["waist_cm"], row["hips_cm"], row["bust_cm"]) == (
        pytest.approx(73.66),
        pytest.approx(96.52),
        pytest.approx(91.44),
    )
    assert (row["bust_band_cm"], row["cup_index"], row["cup_size"]) == (pytest.approx(86.36), 5.0, "dd/e")
    assert (row["quality"], row["shoe_size"], row["shoe_width"], row["length"]) == (
        5.0,
        9.0,
        "average",
        "just right",
    )
    assert np.isnan(row["rating"]) and pd.isna(row["review_date"])


def test_schema_matches_the_contract_even_when_optional_fields_are_absent(tmp_path):
    frame = parse_clothing_fit(write_jsonl(tmp_path / "sparse.json", [{"item_id": "1", "size": 8}]))
    assert list(frame.columns) == list(COLUMNS)
    assert all(frame[c].dtype == np.float64 for c in FLOAT_COLUMNS)
    assert frame["row"].dtype == np.int64
    assert frame["review_date"].dtype == "datetime64[ns]"
    assert frame["fit"].dtype == "str" and frame["fit"].isna().all()


def test_implausible_values_are_kept_as_published(tmp_path):
    frame = parse_clothing_fit(write_jsonl(tmp_path / "rtr.json", [{**RTR_LINE, "age": "116"}]))
    assert frame.loc[0, "age_years"] == 116.0


def test_row_is_the_zero_based_line_index_and_blank_lines_are_skipped(tmp_path):
    path = write_jsonl(tmp_path / "rtr.json", [RTR_LINE, "", {**RTR_LINE, "user_id": "7"}])
    assert parse_clothing_fit(path)["row"].tolist() == [0, 2]


def test_max_rows_stops_early(tmp_path):
    path = write_jsonl(tmp_path / "rtr.json", [RTR_LINE] * 5)
    assert len(parse_clothing_fit(path, max_rows=3)) == 3


def test_malformed_json_names_file_line_and_a_snippet(tmp_path):
    path = write_jsonl(tmp_path / "broken.json", [RTR_LINE, RTR_LINE, '{"fit": "fit", "size": 4'])
    with pytest.raises(
        DataError, match=r"broken\.json, line 3: malformed JSON .*'\{\"fit\": \"fit\", \"size\": 4'"
    ):
        parse_clothing_fit(path)


def test_unknown_fit_label_names_file_line_and_value(tmp_path):
    path = write_jsonl(tmp_path / "rtr.json", [RTR_LINE, {**RTR_LINE, "fit": "snug"}])
    with pytest.raises(DataError, match=r"rtr\.json, line 2, field 'fit': .*unknown fit label 'snug'"):
        parse_clothing_fit(path)


def test_unparseable_value_names_file_line_and_field(tmp_path):
    path = write_jsonl(tmp_path / "rtr.json.gz", [{**RTR_LINE, "height": "tall"}])
    with pytest.raises(DataError, match=r"rtr\.json\.gz, line 1, field 'height': cannot parse 'tall'"):
        parse_clothing_fit(path)


def test_line_that_is_not_an_object_is_rejected(tmp_path):
    path = write_jsonl(tmp_path / "rtr.json", [json.dumps([1, 2])])
    with pytest.raises(DataError, match=r"line 1: expected a JSON object, got list"):
        parse_clothing_fit(path)


def test_truncated_gzip_names_the_file(tmp_path):
    path = write_jsonl(tmp_path / "rtr.json.gz", [RTR_LINE] * 200)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"rtr\.json\.gz, after line \d+: corrupt or truncated"):
        parse_clothing_fit(path)


def test_existing_local_path_wins_over_url(tmp_path):
    path = write_jsonl(tmp_path / "rtr.json", [RTR_LINE])
    src = ShopperSource(name="renttherunway", path=path, url="http://127.0.0.1:9/never-used.json.gz")
    assert locate_shopper_source(src, tmp_path / "downloads") == path


def test_missing_path_falls_back_to_downloading_the_url(tmp_path, http_root):
    root, url = http_root
    write_jsonl(root / "modcloth.json.gz", [MODCLOTH_LINE])
    src = ShopperSource(name="modcloth", path=tmp_path / "absent.json", url=f"{url}modcloth.json.gz")
    got = locate_shopper_source(src, tmp_path / "downloads", progress=False)
    assert got == tmp_path / "downloads" / "modcloth.json.gz"
    assert parse_clothing_fit(got)["source"].tolist() == ["modcloth"]


def test_required_source_that_cannot_be_downloaded_names_the_url(tmp_path, http_root):
    _, url = http_root
    src = ShopperSource(name="modcloth", url=f"{url}gone.json.gz")
    with pytest.raises(DataError, match=rf"{url}gone\.json\.gz failed: HTTP 404"):
        locate_shopper_source(src, tmp_path / "downloads", progress=False)


def test_failed_fallback_download_names_the_missing_local_path_and_the_url(tmp_path, http_root):
    _, url = http_root
    src = ShopperSource(name="renttherunway", path=tmp_path / "absent.json.gz", url=f"{url}gone.json.gz")
    with pytest.raises(DataError) as err:
        locate_shopper_source(src, tmp_path / "downloads", progress=False)
    message = str(err.value)
    assert f"path {tmp_path / 'absent.json.gz'} does not exist" in message
    assert f"{url}gone.json.gz failed: HTTP 404" in message and "data.shoppers.sources" in message
    assert not (tmp_path / "downloads" / "gone.json.gz").exists()


def test_optional_missing_source_is_skipped(tmp_path):
    src = ShopperSource(name="modcloth", path=tmp_path / "absent.json", required=False)
    assert locate_shopper_source(src, tmp_path / "downloads") is None


SHARED_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "data" / "fixtures"


@pytest.mark.skipif(not SHARED_FIXTURES.is_dir(), reason="../shared Clothing-Fit fixtures not available")
@pytest.mark.parametrize("name", ["renttherunway_final_data_mini.json", "modcloth_final_data_mini.json"])
def test_published_sample_files_parse_completely(name):
    frame = parse_clothing_fit(SHARED_FIXTURES / name)
    assert len(frame) == 100
    assert set(frame["fit"]) <= {"small", "fit", "large"}
    assert frame["height_cm"].notna().mean() > 0.9


def test_chunks_concatenate_to_the_whole_file_with_one_schema(tmp_path):
    lines = [RTR_LINE, {"item_id": "9", "fit": "small"}, "", {**RTR_LINE, "user_id": "7"}, {"item_id": "3"}]
    path = write_jsonl(tmp_path / "rtr.json", lines)
    chunks = list(iter_clothing_fit(path, chunk_rows=2))
    assert [len(c) for c in chunks] == [2, 2]
    assert all((c.dtypes == chunks[0].dtypes).all() for c in chunks)
    whole = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(whole, parse_clothing_fit(path))
    assert whole["row"].tolist() == [0, 1, 3, 4]  # line numbers keep counting across chunks


def test_an_empty_file_yields_one_empty_frame_with_the_schema(tmp_path):
    (chunk,) = iter_clothing_fit(write_jsonl(tmp_path / "empty.json", []), chunk_rows=2)
    assert len(chunk) == 0 and list(chunk.columns) == list(COLUMNS)
