"""The metric registry: metric names (as params name them) -> the functions computing them.

As in stylegan2-ada's ``metric_main.py``, the registry imports the metric implementations
(:mod:`fitting_room.evaluation.metrics`), never the reverse, and training-time monitoring,
the evaluation stage and the benchmarks all compute metrics through it. Which names exist
and which keys each returns is declared once, in ``config.gan.METRIC_OUTPUTS``, so the config
can refuse an unknown metric or a gate on a metric nothing computes before any work starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fitting_room.config.gan import METRIC_OUTPUTS
from fitting_room.evaluation import metrics
from fitting_room.evaluation.metric_inputs import MetricInputs

MetricFn = Callable[[MetricInputs], dict[str, float]]


@dataclass(frozen=True)
class Metric:
    name: str
    fn: MetricFn
    outputs: tuple[str, ...]


METRICS: dict[str, Metric] = {}  # name -> metric, every name of config.gan.METRIC_OUTPUTS


def register_metric(name: str, fn: MetricFn) -> MetricFn:
    """Register ``fn`` under ``name``, a metric declared in ``config.gan.METRIC_OUTPUTS``.

    Raises:
        ValueError: ``name`` is not declared, or another function already holds it.
    """
    if name not in METRIC_OUTPUTS:
        raise ValueError(f"metric {name!r} is not declared in config.gan.METRIC_OUTPUTS")
    if name in METRICS and METRICS[name].fn is not fn:
        raise ValueError(f"metric {name!r} registered twice")
    METRICS[name] = Metric(name, fn, METRIC_OUTPUTS[name])
    return fn


for _name, _fn in {
    "fid": metrics.fid,
    "kid": metrics.kid,
    "class_accuracy": metrics.class_accuracy,
    "precision_recall": metrics.precision_recall_metric,
    "diversity": metrics.diversity,
    "real_floor": metrics.real_floor,
    "noisy_real": metrics.noisy_real,
}.items():
    register_metric(_name, _fn)


def compute_metrics(names: list[str], inputs: MetricInputs) -> dict[str, Any]:
    """Run the named metrics and merge their results into one flat dict.

    Raises:
        KeyError: a name is not registered, or a metric did not return a key it declares.
    """
    out: dict[str, Any] = {}
    for name in names:
        if name not in METRICS:
            raise KeyError(f"unknown metric {name!r}; known: {sorted(METRICS)}")
        values = METRICS[name].fn(inputs)
        missing = [key for key in METRICS[name].outputs if key not in values]
        if missing:
            raise KeyError(f"metric {name!r} did not return its declared output(s) {missing}")
        out.update({k: float(v) for k, v in values.items()})
    return out
