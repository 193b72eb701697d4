"""The models we ship, one per role, and the one name each has in MLflow and in BentoML.

The generator draws garments; the guide is the shopping guide (fit advisor + catalog index +
preprocessing in one folder), which answers both ``/fit`` and ``/recommend``. Training,
registration, packaging, the service, lineage and rollback all look names up here.
"""

from __future__ import annotations

GENERATOR = "generator"
GUIDE = "guide"

# role -> registered model name (MLflow registry) == model name in the BentoML store
REGISTERED_MODELS: dict[str, str] = {
    GENERATOR: "fitting-room-generator",
    GUIDE: "fitting-room-guide",
}
ROLES: tuple[str, ...] = tuple(REGISTERED_MODELS)


def registered_name(role: str) -> str:
    """The registered model name of ``role``.

    Raises:
        ValueError: naming the known roles when ``role`` is not one of them.
    """
    try:
        return REGISTERED_MODELS[role]
    except KeyError:
        raise ValueError(f"unknown model role {role!r}; known: {list(ROLES)}") from None
