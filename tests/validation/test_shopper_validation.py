"""Specification of the shopper validation gate (real GX on tiny parquet files)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from validation_builders import make_transactions, shopper_config, write_transactions

from fitting_room.config.data import Range
from fitting_room.errors import DataError, ValidationFailed
from fitting_room.validation.shoppers import apply_ranges, validate_shoppers


def test_clean_shoppers_pass_and_validated_parquet_keeps_the_schema(tmp_path):
    frame = make_transactions()
    folder = write_transactions(tmp_path / "shoppers", frame)

    report = validate_shoppers(folder, shopper_config(tmp_path))

    assert report.success and report.counts["rows"] == 200
    validated = pd.read_parquet(folder / "validated.parquet")
    assert list(validated.columns) == list(frame.columns)
    assert (validated.dtypes.astype(str) == frame.dtypes.astype(str)).all()
    assert (tmp_path / "reports" / "shoppers_data_docs" / "index.html").is_file()


def test_absurd_measurements_become_missing_and_are_counted(tmp_path):
    frame = make_transactions()
    frame.loc[3, "height_cm"] = 305.0
    frame.loc[4, "weight_kg"] = -5.0
    frame.loc[5, "age_years"] = 116.0
    folder = write_transactions(tmp_path / "shoppers", frame)

    report = validate_shoppers(folder, shopper_config(tmp_path, max_out_of_range_share=0.02))

    assert report.success
    assert report.details["out_of_range"] == {
        "height_cm": 1,
        "weight_kg": 1,
        "age_years": 1,
        "bust_band_cm": 0,
        "size": 0,
    }
    validated = pd.read_parquet(folder / "validated.parquet")
    absurd = [validated.loc[3, "height_cm"], validated.loc[4, "weight_kg"], validated.loc[5, "age_years"]]
    assert pd.isna(absurd).all()
    assert validated["height_cm"].notna().sum() == 199


def test_out_of_range_values_fail_only_above_the_allowed_share(tmp_path):
    frame = make_transactions()
    frame.loc[:9, "height_cm"] = [305.0, 12.7, *[400.0] * 8]  # 5% of 200 rows
    folder = write_transactions(tmp_path / "shoppers", frame)

    with pytest.raises(
        ValidationFailed,
        match=r"expect_column_values_to_be_between\(height_cm, 120\.\.220\) on shoppers: "
        r"5\.0% unexpected > 2\.0% allowed \(10 of 200\); e\.g\. 305 \(#0\), 12\.7 \(#1\)",
    ):
        validate_shoppers(folder, shopper_config(tmp_path, max_out_of_range_share=0.02))
    assert validate_shoppers(folder, shopper_config(tmp_path, max_out_of_range_share=0.06)).success


def test_a_nan_ridden_column_fails_its_missing_share(tmp_path):
    frame = make_transactions()
    frame.loc[:99, "weight_kg"] = np.nan
    folder = write_transactions(tmp_path / "shoppers", frame)

    with pytest.raises(ValidationFailed, match=r"null\(weight_kg\).*50\.0% unexpected > 20\.0% allowed"):
        validate_shoppers(folder, shopper_config(tmp_path, max_missing_share={"weight_kg": 0.2}))


def test_an_unknown_fit_label_fails_naming_it(tmp_path):
    frame = make_transactions()
    frame.loc[17, "fit"] = "too big"
    folder = write_transactions(tmp_path / "shoppers", frame)

    with pytest.raises(ValidationFailed, match=r"\(fit, \{small, fit, large\}\).*too big \(#17\)"):
        validate_shoppers(folder, shopper_config(tmp_path))


def test_missing_fit_labels_fail_only_when_the_config_forbids_them(tmp_path):
    frame = make_transactions()
    frame.loc[:4, "fit"] = None
    folder = write_transactions(tmp_path / "shoppers", frame)

    assert validate_shoppers(folder, shopper_config(tmp_path)).success
    with pytest.raises(ValidationFailed, match=r"expect_column_values_to_not_be_null\(fit\)"):
        validate_shoppers(folder, shopper_config(tmp_path, max_missing_share={"fit": 0.0}))


@pytest.mark.parametrize("column", ["user_id", "item_id"])
@pytest.mark.parametrize(
    ("bad", "check"),
    [("", "expect_column_values_to_match_regex"), (None, "expect_column_values_to_not_be_null")],
)
def test_empty_or_missing_ids_fail(tmp_path, column, bad, check):
    frame = make_transactions()
    frame.loc[8, column] = bad
    folder = write_transactions(tmp_path / "shoppers", frame)

    with pytest.raises(ValidationFailed, match=rf"{check}\({column}"):
        validate_shoppers(folder, shopper_config(tmp_path))


def test_duplicate_transaction_keys_fail(tmp_path):
    frame = make_transactions()
    frame.loc[11, ["source", "row"]] = [frame.loc[9, "source"], frame.loc[9, "row"]]
    folder = write_transactions(tmp_path / "shoppers", frame)

    with pytest.raises(ValidationFailed, match=r"expect_compound_columns_to_be_unique\(source\+row\)"):
        validate_shoppers(folder, shopper_config(tmp_path))


def test_a_missing_column_or_wrong_dtype_fails(tmp_path):
    frame = make_transactions().drop(columns=["hips_cm"])
    frame["age_years"] = frame["age_years"].astype(str)
    folder = write_transactions(tmp_path / "shoppers", frame)

    with pytest.raises(ValidationFailed) as failure:
        validate_shoppers(folder, shopper_config(tmp_path))
    assert "expect_table_columns_to_match_set" in str(failure.value) and "hips_cm" in str(failure.value)
    assert "expect_column_values_to_be_of_type(age_years, float64)" in str(failure.value)


def test_too_few_rows_fail(tmp_path):
    folder = write_transactions(tmp_path / "shoppers", make_transactions(n=30))

    with pytest.raises(ValidationFailed, match=r"row_count_to_be_between\(50\.\.\) on shoppers: observed 30"):
        validate_shoppers(folder, shopper_config(tmp_path))


def test_failure_writes_the_report_and_removes_a_stale_validated_parquet(tmp_path):
    folder = write_transactions(tmp_path / "shoppers", make_transactions())
    validate_shoppers(folder, shopper_config(tmp_path))
    assert (folder / "validated.parquet").is_file()

    bad = make_transactions()
    bad.loc[0, "fit"] = "huge"
    write_transactions(folder, bad)
    with pytest.raises(ValidationFailed):
        validate_shoppers(folder, shopper_config(tmp_path))

    assert not (folder / "validated.parquet").exists()
    summary = json.loads((tmp_path / "reports" / "shoppers.json").read_text())
    assert summary["success"] is False and "huge" in summary["failures"][0]


def test_a_missing_transactions_file_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match=r"transactions\.parquet: missing"):
        validate_shoppers(tmp_path, shopper_config(tmp_path))


def test_apply_ranges_leaves_missing_values_missing_and_uncounted():
    frame = pd.DataFrame({"height_cm": [150.0, np.nan, 500.0]})

    clean, counts = apply_ranges(frame, {"height_cm": Range(min=120, max=220)})

    assert counts == {"height_cm": 1}
    assert clean["height_cm"].isna().tolist() == [False, True, True]
    assert frame["height_cm"].iloc[2] == 500.0  # the input is not modified


def test_a_range_for_a_column_that_does_not_exist_fails_naming_it(tmp_path):
    folder = write_transactions(tmp_path / "shoppers", make_transactions())
    ranges = {"heigth_cm": Range(min=120, max=220)}  # a typo in params must not pass silently

    expected = r"\(heigth_cm, 120\.\.220\) on shoppers: could not be evaluated"
    with pytest.raises(ValidationFailed, match=expected):
        validate_shoppers(folder, shopper_config(tmp_path, ranges=ranges))
