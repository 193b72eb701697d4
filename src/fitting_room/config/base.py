"""Base class for every config section: frozen, strict about unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A params.yaml section. Unknown keys fail (typos), values are validated, nothing mutates."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
