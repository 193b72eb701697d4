"""The bento arguments are the serving params: same names, same bounds, nothing forgotten."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fitting_room.config import load_config
from fitting_room.config.serving import BatchingConfig, ServingConfig, TryOnConfig
from fitting_room.serving.args import SERVING_FIELDS, ServiceArgs, service_args

# build-time settings the running service never reads
BUILD_ONLY = {"bento_name", "bentofile", "build_ctx", "out_dir", "reports_dir", "smoke_check"}


def test_every_runtime_serving_param_becomes_a_bento_argument():
    runtime = set(ServingConfig.model_fields) - BUILD_ONLY - {"batching", "tryon"}
    mapped = {path[0] for path in SERVING_FIELDS.values() if len(path) == 1}
    assert runtime == mapped
    for section, model in (("batching", BatchingConfig), ("tryon", TryOnConfig)):
        nested = {path[1] for path in SERVING_FIELDS.values() if len(path) == 2 and path[0] == section}
        assert nested == set(model.model_fields)


def test_resolved_params_round_trip_with_pinned_models():
    cfg = load_config(overrides=["serving.max_images=8", "serving.batching.enabled=false"])
    args = service_args(cfg.serving, {"generator": "fitting-room-generator:abc"})
    assert args["max_images"] == 8 and args["batching"] is False
    assert args["generator_model"] == "fitting-room-generator:abc"
    assert args["guide_model"] == "fitting-room-guide:latest"
    assert ServiceArgs.model_validate(args).model_dump() == args


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_images", 10_000), ("port", 0), ("max_batch_size", 0), ("colour", "red"), ("tryon_max_sizes", 0)],
)
def test_bad_bento_argument_fails_naming_it(name, value):
    # `bentoml serve --arg max_images=10000` is refused exactly like the params bound
    with pytest.raises(ValidationError, match=name):
        ServiceArgs.model_validate({name: value})
