"""Find the generator to serve: the registry champion, an MLflow model URI, or a local folder."""

from __future__ import annotations

from pathlib import Path

from fitting_room.config import Config
from fitting_room.errors import FittingRoomError
from fitting_room.gan.generate import LoadedGenerator, load_generator
from fitting_room.tracking.roles import GENERATOR, registered_name


def champion_uri(profile: str = "default") -> str:
    """``models:/`` URI of ``profile``'s champion generator."""
    return f"models:/{registered_name(GENERATOR, profile)}@champion"


def load_champion_generator(cfg: Config, model_uri: str | None = None) -> LoadedGenerator:
    """Load ``model_uri`` (a local folder or any MLflow model URI), else the registry champion.

    Raises:
        FittingRoomError: when the URI cannot be loaded (e.g. there is no champion yet).
    """
    if model_uri and Path(model_uri).is_dir() and (Path(model_uri) / "generator.json").exists():
        return load_generator(model_uri)
    import mlflow
    from mlflow.exceptions import MlflowException

    from fitting_room.tracking.mlflow_runs import configure_mlflow

    configure_mlflow(cfg.tracking)
    uri = model_uri or champion_uri(cfg.profile)
    try:
        model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as err:
        raise FittingRoomError(
            f"cannot load generator {uri!r} ({str(err).splitlines()[0]}); "
            "run `fitting-room evaluate-gan` to register a champion or pass --model-uri"
        ) from None
    return model.unwrap_python_model().generator
