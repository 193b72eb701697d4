"""The generator as an MLflow pyfunc model: one unit with its class names and value scaling.

Input: a DataFrame with ``category`` (class name or index, as text) and ``seed`` (integer);
output: uint8 images ``(N, H, W, C)``. The same ``(category, seed)`` always gives the same image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

try:  # mlflow is a dependency, but keep this module importable for type checks without it
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover
    PythonModel = object  # type: ignore[misc,assignment]


class GeneratorModel(PythonModel):
    """pyfunc wrapper around a folder written by :func:`fitting_room.gan.generate.save_generator`."""

    # MLflow reads a hint on predict's input as its schema, warns that `Any` is none and (without
    # this flag) that a missing hint is missing: the input is left unannotated and the
    # signature comes from the input example (generator) or the model's own checks (guide)
    _skip_type_hint_validation = True

    def load_context(self, context: Any) -> None:
        from fitting_room.gan.generate import load_generator

        self.generator = load_generator(context.artifacts["generator_dir"])

    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> np.ndarray:
        from fitting_room.gan.generate import generate, resolve_category

        names = self.generator.class_names
        labels = [resolve_category(c, names) for c in model_input["category"]]
        return generate(self.generator, labels, np.asarray(model_input["seed"], np.int64))


def log_generator_model(model_dir: str | Path, name: str = "generator") -> Any:
    """Log the saved generator folder as a pyfunc model in the active run; returns model info.

    Models-from-code with this package in its ``code_paths``: it loads in any environment
    made from its own requirements (``tracking/model_code.py``)."""
    import keras
    import mlflow
    import pandas as pd
    import pydantic
    import tensorflow as tf
    import yaml
    from mlflow.models import infer_signature

    from fitting_room.gan.generate import generate, load_generator
    from fitting_room.tracking.model_code import log_code_model, pinned

    loaded = load_generator(model_dir)
    example = pd.DataFrame({"category": [loaded.class_names[0]], "seed": [0]})
    signature = infer_signature(example, generate(loaded, [0], [0]))
    return log_code_model(
        name,
        Path(__file__).with_name("mlflow_entry.py"),
        {"generator_dir": str(model_dir)},
        # explicit requirements: inferring them would import and time the whole package
        pinned(tf, keras, np, pd, pydantic, yaml, mlflow),
        signature=signature,
        input_example=example,
    )
