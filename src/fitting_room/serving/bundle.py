"""Load the served models from their BentoML model folders, once, at service start.

Each folder holds what the pipeline registered in MLflow under the ``champion`` alias (the
package stage copies it in). The loaders delegate to the model owners' public APIs so that
serving cannot drift from training: the GAN's own per-seed noise and value scaling, and the
shopping guide's own preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fitting_room.errors import DataError


def find_file(root: str | Path, name: str) -> Path:
    """The single file called ``name`` under ``root`` (MLflow nests artifacts a level or two deep).

    Raises:
        DataError: naming the folder when the file is missing or ambiguous.
    """
    hits = sorted(Path(root).rglob(name))
    if not hits:
        raise DataError(f"{root}: no {name} inside the served model folder")
    if len(hits) > 1:
        raise DataError(f"{root}: several {name} files ({', '.join(map(str, hits))}); cannot pick one")
    return hits[0]


@dataclass
class GeneratorDrawer:
    """The GAN's saved generator with its preprocessing, behind the studio's two calls."""

    generator: Any  # fitting_room.gan.generate.LoadedGenerator

    @property
    def class_names(self) -> list[str]:
        return self.generator.class_names

    def latents(self, seeds: np.ndarray) -> np.ndarray:
        from fitting_room.gan.generate import noise_for_seeds

        return noise_for_seeds(seeds, self.generator.latent_dim)

    def draw(self, labels: np.ndarray, latents: np.ndarray) -> np.ndarray:
        # gan.generate.generate() takes seeds; interpolation needs latents, so the model is
        # called here the same way: predict_on_batch (inference-mode batch norm, one compiled
        # function reused across calls -- an eager call costs ~20x more per small batch) and
        # the GAN's own value scaling.
        from fitting_room.gan.data import to_uint8

        out = self.generator.model.predict_on_batch([latents.astype(np.float32), labels.astype(np.int32)])
        return to_uint8(out)


def load_drawer(root: str | Path) -> GeneratorDrawer:
    """Load the generator folder the GAN stage saved (found anywhere under ``root``)."""
    from fitting_room.gan.generate import MODEL_FILE, load_generator

    return GeneratorDrawer(load_generator(find_file(root, MODEL_FILE).parent))
