"""Log a pyfunc model as MLflow models-from-code that carries this package with it.

A registered model must load wherever MLflow runs -- a fresh virtual environment made only from
the model's ``requirements.txt``, ``mlflow models serve --env-manager uv``, another team's
notebook -- not only in this checkout's ``.venv``. So a model is logged as *code*, not as a
cloudpickled object: ``python_model`` is the path of a small entry file that builds the model
with ``mlflow.models.set_model``, and ``code_paths`` ships the ``fitting_room`` package itself,
which MLflow puts on ``sys.path`` before it runs that file. The requirements are explicit
(pinned to the versions trained with); MLflow's uv auto-detection is off, because this
project's ``uv.lock`` describes the whole pipeline, including the project itself, which a model
environment can neither build nor needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fitting_room.environ import scoped_environ

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/fitting_room


def pinned(*modules: Any) -> list[str]:
    """``name==version`` of each imported distribution module (its ``__version__``)."""
    names = {"sklearn": "scikit-learn", "cv2": "opencv-python-headless", "yaml": "pyyaml"}
    return [f"{names.get(m.__name__, m.__name__)}=={m.__version__}" for m in modules]


def log_code_model(
    name: str,
    entry: Path,
    artifacts: Mapping[str, str],
    pip_requirements: Sequence[str],
    **kwargs: Any,
) -> Any:
    """Log ``entry`` (a file calling ``set_model``) with this package as code; returns model info."""
    import mlflow

    # MLflow copies the cwd's uv.lock and pyproject.toml into a model unless told not to
    with scoped_environ({"MLFLOW_UV_AUTO_DETECT": "false", "MLFLOW_LOG_UV_FILES": "false"}):
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(entry),
            artifacts=dict(artifacts),
            code_paths=[str(PACKAGE_DIR)],
            pip_requirements=list(pip_requirements),
            **kwargs,
        )
