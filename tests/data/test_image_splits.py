"""Stratified sampling and splitting keep every class, and the npz contract round-trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitting_room.data.images import (
    ImageSplit,
    read_images_npz,
    stratified_split,
    stratified_subsample,
    write_images_npz,
)
from fitting_room.errors import DataError

class_sizes = st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6)


def labels_for(sizes: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


@settings(max_examples=60, deadline=None)
@given(sizes=class_sizes, share=st.floats(min_value=0.05, max_value=1.0), seed=st.integers(0, 1000))
def test_subsample_has_exactly_n_rows_and_each_class_within_one_of_its_share(sizes, share, seed):
    labels = labels_for(sizes)
    n = max(1, int(len(labels) * share))
    picked = stratified_subsample(labels, n, seed)
    assert len(picked) == n and len(set(picked)) == n
    counts = np.bincount(labels[picked], minlength=len(sizes))
    assert np.all(np.abs(counts - np.array(sizes) * n / len(labels)) < 1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(sizes=class_sizes, fraction=st.floats(min_value=0.05, max_value=0.5), seed=st.integers(0, 1000))
def test_split_is_a_partition_and_tests_every_class_with_two_or_more_items(sizes, fraction, seed):
    labels = labels_for(sizes)
    train, test = stratified_split(labels, fraction, seed)
    assert sorted([*train, *test]) == list(range(len(labels)))
    tested = set(labels[test])
    assert all((k in tested) == (size >= 2) for k, size in enumerate(sizes))
    assert set(labels[train]) == set(range(len(sizes)))  # every class is also trained on


def test_npz_round_trip_keeps_arrays_and_class_names(tmp_path):
    split = ImageSplit(
        np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3),
        np.array([1, 0]),
        ("t-shirt/top", "ankle boot"),
        np.array(["a", "b"]),
    )
    back = read_images_npz(write_images_npz(split, tmp_path / "train.npz"))
    assert np.array_equal(back.images, split.images) and back.labels.tolist() == [1, 0]
    assert back.class_names == split.class_names and back.item_ids.tolist() == ["a", "b"]


def test_npz_without_labels_names_the_file_and_the_missing_array(tmp_path):
    np.savez(tmp_path / "train.npz", images=np.zeros((1, 2, 2, 1), np.uint8), class_names=np.array(["x"]))
    with pytest.raises(DataError, match=r"train\.npz: missing arrays \['labels'\]"):
        read_images_npz(tmp_path / "train.npz")
