"""Specification of the image validation gate (real GX on tiny npz files)."""

from __future__ import annotations

import json

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays
from validation_builders import image_config, make_images, write_images

from fitting_room.errors import DataError, ValidationFailed
from fitting_room.validation.images import image_stats, validate_images


def test_image_stats_has_one_row_per_image_with_shape_range_and_hash():
    images, labels = make_images(5, seed=0)
    images[4] = images[1]

    stats = image_stats(images, labels, "train")

    assert len(stats) == 5
    assert (stats[["height", "width", "channels"]].to_numpy() == [8, 8, 1]).all()
    assert stats["min"].iloc[0] == images[0].min() and stats["max"].iloc[0] == images[0].max()
    assert stats["mean"].iloc[2] == pytest.approx(images[2].mean())
    assert stats["hash"].iloc[4] == stats["hash"].iloc[1] != stats["hash"].iloc[0]


def test_a_clean_image_set_passes_and_writes_report_and_data_docs(clean_images, tmp_path):
    cfg = image_config(tmp_path)

    report = validate_images(clean_images, cfg)

    assert report.success
    assert report.counts["train_rows"] == 100 and report.counts["test_rows"] == 20
    summary = json.loads((tmp_path / "reports" / "images.json").read_text())
    assert summary["success"] is True and summary["failures"] == []
    assert (tmp_path / "reports" / "images_data_docs" / "index.html").is_file()


def test_a_label_outside_the_class_set_fails_naming_it(tmp_path):
    images, labels = make_images(100, seed=1)
    labels[7] = 12
    folder = write_images(tmp_path / "images", (images, labels), make_images(20, seed=2))

    with pytest.raises(ValidationFailed, match=r"expect_column_values_to_be_in_set\(label.*12 \(#7\)"):
        validate_images(folder, image_config(tmp_path))


def test_images_of_the_wrong_shape_fail(tmp_path):
    folder = write_images(
        tmp_path / "images", make_images(100, seed=1, resolution=10), make_images(20, seed=2, resolution=10)
    )
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "resolution": 8}))

    with pytest.raises(ValidationFailed, match=r"\(height, \{8\}\).*e\.g\. 10"):
        validate_images(folder, image_config(tmp_path))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_pixels_in_float_images_fail(tmp_path, bad):
    images, labels = make_images(100, seed=1)
    images = images.astype(np.float32)
    images[3, 0, 0, 0] = bad
    folder = write_images(tmp_path / "images", (images, labels), make_images(20, seed=2))

    column = "has_nan" if np.isnan(bad) else "has_inf"
    with pytest.raises(ValidationFailed, match=rf"\({column}, \{{False\}}\).*True \(#3\)"):
        validate_images(folder, image_config(tmp_path))


def test_a_test_image_identical_to_a_train_image_is_leakage(tmp_path):
    train = make_images(100, seed=1)
    test = make_images(20, seed=2)
    test[0][5] = train[0][42]
    folder = write_images(tmp_path / "images", train, test)

    with pytest.raises(ValidationFailed, match=r"leaked_from_train.*train\[42\] \(#5\)"):
        validate_images(folder, image_config(tmp_path))
    assert json.loads((tmp_path / "reports" / "images.json").read_text())["counts"]["leaked_test_images"] == 1


def test_leakage_check_can_be_switched_off(tmp_path):
    train = make_images(100, seed=1)
    test = make_images(20, seed=2)
    test[0][5] = train[0][42]
    folder = write_images(tmp_path / "images", train, test)

    assert validate_images(folder, image_config(tmp_path, check_leakage=False)).success


def test_duplicates_within_a_split_are_allowed_but_counted(tmp_path):
    images, labels = make_images(100, seed=1)
    images[10] = images[0]  # same class (10 % 10 == 0), so balance is untouched
    folder = write_images(tmp_path / "images", (images, labels), make_images(20, seed=2))

    report = validate_images(folder, image_config(tmp_path))

    assert report.counts["train_duplicates"] == 1


def test_class_imbalance_beyond_tolerance_fails_naming_the_class(tmp_path):
    images, labels = make_images(100, seed=1)
    labels[labels == 3] = 4  # no dresses left, twice the coats
    folder = write_images(tmp_path / "images", (images, labels), make_images(20, seed=2))

    with pytest.raises(
        ValidationFailed, match=r"ratio, 0\.75\.\.1\.25.*0 \(#train/dress\), 2 \(#train/coat\)"
    ):
        validate_images(folder, image_config(tmp_path))


def test_imbalance_within_tolerance_passes(tmp_path):
    images, labels = make_images(100, seed=1)
    labels[np.flatnonzero(labels == 3)[:2]] = 4  # dress 8, coat 12: ratios 0.8 and 1.2
    folder = write_images(tmp_path / "images", (images, labels), make_images(20, seed=2))

    assert validate_images(folder, image_config(tmp_path)).success


def test_too_few_rows_in_a_split_fails(tmp_path, clean_images):
    with pytest.raises(
        ValidationFailed, match=r"expect_table_row_count_to_be_between\(1000\.\.\) on images_train"
    ):
        validate_images(clean_images, image_config(tmp_path, min_train_rows=1000))


def test_a_failure_still_writes_the_json_report(tmp_path, clean_images):
    with pytest.raises(ValidationFailed):
        validate_images(clean_images, image_config(tmp_path, min_test_rows=500))

    summary = json.loads((tmp_path / "reports" / "images.json").read_text())
    assert summary["success"] is False
    assert len(summary["failures"]) == 1 and "images_test" in summary["failures"][0]


def test_missing_meta_json_is_a_data_error_naming_the_file(tmp_path, clean_images):
    (clean_images / "meta.json").unlink()

    with pytest.raises(DataError, match=r"meta\.json: missing"):
        validate_images(clean_images, image_config(tmp_path))


@settings(max_examples=25, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3)))
)
def test_image_stats_agree_with_per_image_numpy(images):
    labels = np.zeros(len(images), dtype=np.int64)

    stats = image_stats(images, labels, "test")

    for i, image in enumerate(images):
        row = stats.iloc[i]
        assert (row["height"], row["width"], row["channels"]) == image.shape
        assert (row["min"], row["max"]) == (image.min(), image.max())
        assert row["mean"] == pytest.approx(image.mean()) and row["std"] == pytest.approx(image.std())
    same = [a.tobytes() == b.tobytes() for a in images for b in images]
    assert same == [a == b for a in stats["hash"] for b in stats["hash"]]
