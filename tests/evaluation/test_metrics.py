"""Metric functions behave like the quantities they name, and the registry guards their names."""

from __future__ import annotations

import numpy as np
import pytest

from fitting_room.config.gan import METRIC_OUTPUTS
from fitting_room.evaluation import metric_registry
from fitting_room.evaluation import metrics as m
from fitting_room.evaluation.metric_inputs import Features, MetricInputs
from fitting_room.evaluation.metric_registry import METRICS, compute_metrics, register_metric

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=(600, 8)).astype(np.float32)
SAME = RNG.normal(size=(600, 8)).astype(np.float32)


def _features(x, labels=None, predicted=None):
    labels = np.zeros(len(x), int) if labels is None else labels
    return Features(x, labels, labels if predicted is None else predicted)


def test_fid_is_near_zero_for_the_same_distribution_and_grows_with_a_shift():
    assert m.frechet_distance(REAL, SAME) < 0.2
    assert m.frechet_distance(REAL, SAME + 1.0) == pytest.approx(8.0, rel=0.1)  # |mean shift|^2 = 8


def test_kid_is_unbiased_around_zero_for_the_same_distribution():
    same, _ = m.kernel_distance(REAL, SAME, subsets=5, subset_size=300, seed=0)
    shifted, _ = m.kernel_distance(REAL, SAME + 1.0, subsets=5, subset_size=300, seed=0)
    assert abs(same) < 0.05 < shifted


def test_precision_and_recall_are_high_for_real_like_samples_and_zero_far_away():
    precision, recall = m.precision_recall(REAL, SAME, k=3)
    assert precision > 0.8 and recall > 0.8
    assert m.precision_recall(REAL, SAME + 100.0, k=3) == (0.0, 0.0)


def test_collapsed_samples_have_full_precision_but_no_recall():
    collapsed = np.repeat(REAL[:1], 600, axis=0) + RNG.normal(0, 1e-3, (600, 8)).astype(np.float32)
    precision, recall = m.precision_recall(REAL, collapsed, k=3)
    assert precision == 1.0 and recall < 0.05


def test_diversity_flags_the_one_collapsed_class():
    labels = np.repeat([0, 1], 300)
    fake = SAME.copy()
    fake[labels == 1] = fake[labels == 1][0]  # class 1 collapsed to a single image
    out = m.diversity(MetricInputs(real=_features(REAL, labels), fake=_features(fake, labels), num_classes=2))
    assert out["diversity_class_0"] == pytest.approx(1.0, abs=0.1)
    assert out["diversity_min_ratio"] == out["diversity_class_1"] == pytest.approx(0.0, abs=1e-6)


def test_class_accuracy_is_relative_to_the_classifier_on_real_images():
    labels = np.repeat([0, 1], 300)
    wrong = labels.copy()
    wrong[:150] = 1  # a quarter of generated images look like the other class
    out = m.class_accuracy(
        MetricInputs(real=_features(REAL, labels), fake=_features(SAME, labels, wrong), num_classes=2)
    )
    assert out["class_accuracy"] == pytest.approx(0.75)
    assert out["class_accuracy_ratio"] == pytest.approx(0.75)


def test_reference_sets_are_built_lazily_and_once():
    calls = []

    def build():
        calls.append(1)
        return _features(SAME)

    inputs = MetricInputs(
        real=_features(REAL),
        fake=_features(SAME),
        num_classes=1,
        kid_subset_size=100,
        references={"train": build, "noisy_train": build},
    )
    out = compute_metrics(["fid", "real_floor"], inputs)
    assert calls == [1] and out["real_floor_fid"] < 0.2
    compute_metrics(["real_floor"], inputs)
    assert calls == [1]


def test_every_registered_metric_returns_every_output_it_declares():
    # the config checks gate keys against the declared outputs: a declared key the metric does
    # not return would let a gate name a number that is never computed (per-class extras are fine)
    labels = np.repeat([0, 1], 300)
    inputs = MetricInputs(
        real=_features(REAL, labels),
        fake=_features(SAME, labels),
        num_classes=2,
        kid_subsets=2,
        kid_subset_size=100,
        real_accuracy=1.0,
        references={
            "train": lambda: _features(SAME, labels),
            "noisy_train": lambda: _features(SAME + 0.1, labels),
        },
    )
    for name in sorted(METRICS):
        declared = set(METRICS[name].outputs)
        assert declared and declared <= set(compute_metrics([name], inputs)), name


def test_every_metric_named_in_params_is_registered_with_its_outputs():
    from gan_builders import PARAMS

    from fitting_room.config import load_config

    cfg = load_config(PARAMS)
    assert set(cfg.evaluation.metrics) <= set(METRICS)


def test_the_registry_implements_exactly_the_metrics_the_config_declares():
    assert set(METRICS) == set(METRIC_OUTPUTS)
    assert all(METRICS[name].outputs == outputs for name, outputs in METRIC_OUTPUTS.items())


def test_registering_two_functions_under_one_name_fails():
    with pytest.raises(ValueError, match="registered twice"):
        register_metric("fid", lambda inputs: {})


def test_registering_an_undeclared_metric_names_where_to_declare_it():
    with pytest.raises(ValueError, match="not declared in config.gan.METRIC_OUTPUTS"):
        register_metric("sharpness", lambda inputs: {})


def test_a_metric_that_omits_a_declared_output_is_refused():
    fid = METRICS["fid"]
    METRICS["fid"] = metric_registry.Metric("fid", lambda inputs: {}, fid.outputs)
    try:
        with pytest.raises(KeyError, match=r"did not return its declared output\(s\) \['fid'\]"):
            compute_metrics(["fid"], MetricInputs(real=_features(REAL), fake=_features(SAME), num_classes=1))
    finally:
        METRICS["fid"] = fid


def test_computing_an_unknown_metric_names_it():
    with pytest.raises(KeyError, match="fidd"):
        compute_metrics(["fidd"], MetricInputs(real=_features(REAL), fake=_features(SAME), num_classes=1))
