"""The shopping guide as one MLflow pyfunc model, shipping the whole guide folder.

It wraps the pickle-free model directory (LightGBM text models, parquet statistics, npz item
index, JSON vocabularies), so a served model cannot drift from its preprocessing. One model
answers both questions the guide is asked, told apart by the input's columns:

- fit advice -- transaction-like rows (shopper columns, ``item_id``, ``category``, ``size``);
  output: ``p_small``, ``p_fit``, ``p_large``, ``advised_size``.
- recommendations -- one shopper profile per row (:class:`ShopperProfile` fields, ``k``, no
  ``item_id``); output: a JSON list of recommendations per row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

try:  # mlflow is a dependency, but keep this module importable for type checks without it
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover
    PythonModel = object  # type: ignore[misc,assignment]


class GuideModel(PythonModel):
    # MLflow reads a hint on predict's input as its schema, warns that `Any` is none and (without
    # this flag) that a missing hint is missing: the input is left unannotated and the
    # signature comes from the model's own checks
    _skip_type_hint_validation = True

    def load_context(self, context: Any) -> None:
        from fitting_room.recommender.guide import ShoppingGuide

        self.guide = ShoppingGuide.load(context.artifacts["guide_dir"])

    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        frame = pd.DataFrame(model_input)
        return self._advise(frame) if "item_id" in frame else self._recommend(frame)

    def _advise(self, frame: Any) -> Any:
        import pandas as pd

        proba, advised = self.guide.advisor.advise(frame)
        return pd.DataFrame(
            {"p_small": proba[:, 0], "p_fit": proba[:, 1], "p_large": proba[:, 2], "advised_size": advised}
        )

    def _recommend(self, frame: Any) -> Any:
        import pandas as pd

        from fitting_room.recommender.guide import ShopperProfile

        out = []
        for record in frame.to_dict(orient="records"):
            k = record.pop("k", None)
            clean = {key: v for key, v in record.items() if v is not None and v == v}  # drop NaN
            for key in ("categories", "history"):
                if isinstance(clean.get(key), str):
                    clean[key] = tuple(json.loads(clean[key]))
            items = self.guide.recommend(ShopperProfile.parse(clean), int(k) if k == k and k else None)
            out.append(json.dumps(items))
        return pd.DataFrame({"recommendations": out})


def log_guide_model(guide_dir: str | Path, name: str = "guide") -> Any:
    """Log the guide as a pyfunc model in the active run (registering it is the caller's part).

    Models-from-code with this package in its ``code_paths``: it loads in any environment
    made from its own requirements (``tracking/model_code.py``)."""
    import lightgbm
    import mlflow
    import numpy as np
    import pandas as pd
    import pyarrow
    import pydantic
    import scipy
    import usearch
    import yaml

    from fitting_room.tracking.model_code import log_code_model, pinned

    return log_code_model(
        name,
        Path(__file__).with_name("mlflow_entry.py"),
        {"guide_dir": str(guide_dir)},
        # explicit requirements: inferring them would import and time the whole package
        pinned(lightgbm, np, pd, pyarrow, scipy, pydantic, yaml, usearch, mlflow),
    )
