"""The typed root of params.yaml; each section lives in its own module."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fitting_room.config.base import Section
from fitting_room.config.data import DataConfig, ValidationConfig
from fitting_room.config.gan import EvaluationConfig, GanConfig
from fitting_room.config.ops import OpsConfig
from fitting_room.config.recommender import RecommenderConfig
from fitting_room.config.serving import ServingConfig
from fitting_room.config.stack import StackConfig


class TrackingConfig(Section):
    # MLFLOW_TRACKING_URI, when set, wins over this; None = SQLite inside the project
    uri: str | None = None
    db_path: str = "mlruns/mlflow.db"
    artifact_root: str = "mlruns/artifacts"
    experiment: str = Field("fitting-room", min_length=1)


class Config(Section):
    # names this profile's registered models and bento (tracking/roles.py): lowercase, no dots
    profile: str = Field("default", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    seed: int = Field(42, ge=0)
    tracking: TrackingConfig = TrackingConfig()
    data: DataConfig
    validation: ValidationConfig = ValidationConfig()
    gan: GanConfig = GanConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    recommender: RecommenderConfig = RecommenderConfig()
    serving: ServingConfig = ServingConfig()
    ops: OpsConfig = OpsConfig()
    stack: StackConfig = StackConfig()

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
