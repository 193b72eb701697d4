"""The metric registry: one function per metric, named in params, shared by training and evaluation.

A metric is a function ``fn(inputs: MetricInputs) -> dict[str, float]`` registered with
``@register_metric(name, outputs=(...))``; ``outputs`` lists the keys it returns so the
config can check, before any training, that every gated metric is actually computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MetricFn = Callable[["MetricInputs"], dict[str, float]]


@dataclass(frozen=True)
class Features:
    """Classifier view of one image set: penultimate features, labels and predictions."""

    features: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) requested class (generated) or true class (real)
    predicted: np.ndarray  # (N,) classifier argmax


@dataclass
class MetricInputs:
    """What metrics read: the real test split, the generated set, and lazily built references."""

    real: Features
    fake: Features
    num_classes: int
    knn_k: int = 3
    kid_subsets: int = 10
    kid_subset_size: int = 1000
    seed: int = 0
    real_accuracy: float = float("nan")  # classifier accuracy on the real test split
    references: dict[str, Callable[[], Features]] = field(default_factory=dict)
    _cache: dict[str, Features] = field(default_factory=dict, repr=False)

    def reference(self, name: str) -> Features:
        """A named real reference set (e.g. ``train``, ``noisy_train``), built on first use."""
        if name not in self._cache:
            if name not in self.references:
                raise KeyError(f"metric needs reference image set {name!r}, which was not provided")
            self._cache[name] = self.references[name]()
        return self._cache[name]


@dataclass(frozen=True)
class Metric:
    name: str
    fn: MetricFn
    outputs: tuple[str, ...]


_REGISTRY: dict[str, Metric] = {}


def register_metric(name: str, outputs: tuple[str, ...]) -> Callable[[MetricFn], MetricFn]:
    """Register ``fn`` under ``name``; ``outputs`` are the metric keys it returns."""

    def wrap(fn: MetricFn) -> MetricFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"metric {name!r} registered twice")
        _REGISTRY[name] = Metric(name, fn, outputs)
        return fn

    return wrap


def _load_builtin() -> dict[str, Metric]:
    # The built-in metrics register themselves when their module is imported.
    from fitting_room.evaluation import metrics  # noqa: F401

    return _REGISTRY


def known_metrics() -> set[str]:
    """Names of every registered metric."""
    return set(_load_builtin())


def metric_outputs(name: str) -> tuple[str, ...]:
    """The keys metric ``name`` returns (unknown names yield nothing)."""
    metric = _load_builtin().get(name)
    return metric.outputs if metric else ()


def compute_metrics(names: list[str], inputs: MetricInputs) -> dict[str, Any]:
    """Run the named metrics and merge their results into one flat dict."""
    registry = _load_builtin()
    out: dict[str, Any] = {}
    for name in names:
        if name not in registry:
            raise KeyError(f"unknown metric {name!r}; known: {sorted(registry)}")
        out.update({k: float(v) for k, v in registry[name].fn(inputs).items()})
    return out
