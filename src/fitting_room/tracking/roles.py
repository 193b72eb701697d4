"""The models we ship, one per role, and the one name each has in MLflow and in BentoML.

The generator draws garments; the guide is the shopping guide (fit advisor + catalog index +
preprocessing in one folder), which answers both ``/fit`` and ``/recommend``. Training,
registration, packaging, the service, lineage and rollback all look names up here.

Each params profile has its own registry names: the ``default`` profile (production) owns
``fitting-room-generator`` and ``fitting-room-guide``; any other profile ``p`` (``smoke`` in
CI, say) registers ``fitting-room-generator-p`` and ``fitting-room-guide-p``, builds the bento
``fitting-room-p`` and names its current bento in ``current-p.json`` beside the default's
``current.json``. So a run of one profile never moves the ``champion`` alias, nor the current
bento, of another -- on a shared MLflow server as in the embedded store.
"""

from __future__ import annotations

GENERATOR = "generator"
GUIDE = "guide"
DEFAULT_PROFILE = "default"

# role -> registered model name of the default profile (MLflow registry == BentoML store)
REGISTERED_MODELS: dict[str, str] = {
    GENERATOR: "fitting-room-generator",
    GUIDE: "fitting-room-guide",
}
ROLES: tuple[str, ...] = tuple(REGISTERED_MODELS)


def profile_suffix(profile: str) -> str:
    """``""`` for the default profile, ``"-<profile>"`` for any other."""
    return "" if profile == DEFAULT_PROFILE else f"-{profile}"


def registered_name(role: str, profile: str = DEFAULT_PROFILE) -> str:
    """The registered model name of ``role`` under ``profile``.

    Raises:
        ValueError: naming the known roles when ``role`` is not one of them.
    """
    try:
        return REGISTERED_MODELS[role] + profile_suffix(profile)
    except KeyError:
        raise ValueError(f"unknown model role {role!r}; known: {list(ROLES)}") from None


def registered_models(profile: str = DEFAULT_PROFILE) -> dict[str, str]:
    """role -> registered model name under ``profile``."""
    return {role: registered_name(role, profile) for role in ROLES}


def bento_name(base: str, profile: str = DEFAULT_PROFILE) -> str:
    """The bento name ``serving.bento_name`` takes under ``profile``."""
    return base + profile_suffix(profile)


def current_file(profile: str = DEFAULT_PROFILE) -> str:
    """The file in ``serving.out_dir`` naming ``profile``'s current bento."""
    return f"current{profile_suffix(profile)}.json"
