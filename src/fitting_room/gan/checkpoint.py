"""Resume checkpoints: every variable of the training state in one atomically replaced file.

The state is the generator, discriminator, EMA generator, both optimizers, the noise
generator's seed state, the step counter and the class-loss schedule, so a resumed run
continues exactly where the last checkpoint left it. ``state.json`` beside it records the
step and the fingerprint of the config that produced it; a different architecture refuses
to resume.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from fitting_room.errors import FittingRoomError
from fitting_room.files import atomic_write, atomic_write_json

STATE_FILE = "state.npz"
META_FILE = "state.json"


def state_variables(gan: Any) -> dict[str, list[Any]]:
    """Every variable of the training state, by group (what a checkpoint holds)."""
    return {
        "generator": gan.generator.weights,
        "discriminator": gan.discriminator.weights,
        "ema_generator": gan.ema_generator.weights,
        "g_optimizer": gan.g_optimizer.variables,
        "d_optimizer": gan.d_optimizer.variables,
        "noise": [gan.noise.state],
        "step": [gan.step],
        "schedule": [gan.late_from],
    }


# groups a checkpoint of an earlier release may lack: restoring keeps the fresh value
OPTIONAL_GROUPS = {"schedule"}


def state_digest(gan: Any) -> str:
    """SHA-256 of the whole training state: workers of one cluster must agree on it."""
    import hashlib

    digest = hashlib.sha256()
    for group, variables in state_variables(gan).items():
        for i, v in enumerate(variables):
            digest.update(f"{group}/{i}".encode())
            digest.update(np.ascontiguousarray(np.asarray(v.numpy() if hasattr(v, "numpy") else v)).tobytes())
    return digest.hexdigest()


def build_optimizers(gan: Any) -> None:
    """Create optimizer slots now, so a checkpoint can be restored before the first step."""
    gan.d_optimizer.build(gan.discriminator.trainable_weights)
    gan.g_optimizer.build(gan.generator.trainable_weights)


def save_checkpoint(gan: Any, directory: str | Path, meta: dict[str, Any]) -> Path:
    """Write the full training state; the previous checkpoint survives until the new one is complete."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {  # Any: numpy's stub would read a key as savez's allow_pickle flag
        f"{group}/{i}": np.asarray(v.numpy() if hasattr(v, "numpy") else v)
        for group, variables in state_variables(gan).items()
        for i, v in enumerate(variables)
    }
    meta = {**meta, "step": int(gan.step.numpy())}
    # state first, then the small record that points at it: a crash between leaves the
    # new state with the old record, which only under-reports the step (never corrupts).
    # np.savez appends .npz to names without it, so the temporary name ends in .npz.
    atomic_write(directory / STATE_FILE, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")
    atomic_write_json(directory / META_FILE, meta)
    return directory / STATE_FILE


def read_checkpoint_meta(directory: str | Path) -> dict[str, Any] | None:
    path = Path(directory) / META_FILE
    if not path.exists() or not (Path(directory) / STATE_FILE).exists():
        return None
    return json.loads(path.read_text())


def restore_checkpoint(
    gan: Any, directory: str | Path, fingerprint: str, strict: bool = True
) -> dict[str, Any] | None:
    """Load the last checkpoint into ``gan`` (optimizers must be built); None when there is none.

    Args:
        strict: a checkpoint of another configuration raises; when False it is ignored (the
            run starts afresh and its first checkpoint replaces it), with a warning.

    Raises:
        FittingRoomError: when strict and the checkpoint came from another model/data configuration.
    """
    meta = read_checkpoint_meta(directory)
    if meta is None:
        return None
    if meta.get("fingerprint") != fingerprint and not strict:
        warnings.warn(
            f"{directory}: checkpoint of another gan/data configuration ignored; training starts afresh",
            stacklevel=2,
        )
        return None
    if meta.get("fingerprint") != fingerprint:
        raise FittingRoomError(
            f"{directory}: checkpoint was made with a different gan/data configuration "
            f"({meta.get('fingerprint')} != {fingerprint}); delete the folder to start afresh"
        )
    with np.load(Path(directory) / STATE_FILE) as npz:
        for group, variables in state_variables(gan).items():
            for i, v in enumerate(variables):
                key = f"{group}/{i}"
                if key not in npz and group in OPTIONAL_GROUPS:
                    continue
                if key not in npz or tuple(npz[key].shape) != tuple(v.shape):
                    raise FittingRoomError(f"{directory}/{STATE_FILE}: {key} missing or of another shape")
                v.assign(npz[key])
    return meta
