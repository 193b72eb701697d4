"""The bounds the preflight puts on MLflow's HTTP client are ones MLflow itself can read."""

from __future__ import annotations

import pytest

from fitting_room.config.ops import TrackingCheckConfig
from fitting_room.ops.preflight import bound_mlflow_retries

VARIABLES = (
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
)


@pytest.mark.parametrize("backoff_s", [0.0, 0.5, 1.0, 2.5])
def test_mlflow_parses_every_retry_bound_it_is_given(monkeypatch, backoff_s):
    from mlflow import environment_variables as mlflow_env

    for name in VARIABLES:  # recorded by setenv, so the test leaves the environment as it was
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    bound_mlflow_retries(TrackingCheckConfig(retries=3, backoff_s=backoff_s, timeout_s=2.5))
    assert mlflow_env.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 2
    assert mlflow_env.MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get() >= backoff_s  # never shorter than asked
    assert mlflow_env.MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 2
