"""The quality-gate section every gated model's params use (``evaluation.gate``, ``recommender.gate``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fitting_room.config.base import Section


class GateConfig(Section):
    minimum: dict[str, float] = Field(default_factory=dict)  # metric -> lowest acceptable value
    maximum: dict[str, float] = Field(default_factory=dict)  # metric -> highest acceptable value
    # metrics compared with the current champion, and which direction is better
    compare: dict[str, Literal["higher", "lower"]] = Field(default_factory=dict)
    tolerance: float = Field(0.02, ge=0, le=1)  # relative slack vs the champion

    @model_validator(mode="after")
    def _consistent(self) -> GateConfig:
        both = {k for k in self.minimum if k in self.maximum and self.minimum[k] > self.maximum[k]}
        if both:
            raise ValueError(f"minimum above maximum for {sorted(both)}")
        return self

    @property
    def metric_names(self) -> set[str]:
        return set(self.minimum) | set(self.maximum) | set(self.compare)
