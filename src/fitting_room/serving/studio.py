"""The fitting room's drawing desk: requests -> image jobs -> one generator call -> PNGs.

A request is first planned into :class:`ImageJob` s (label, seed, optional second seed and a
position between them). Jobs from many concurrent requests are then drawn together in one
generator call by :meth:`Studio.render` -- the batch the BentoML dispatcher assembles. Each
image depends only on its own job (per-seed noise), never on its batch neighbours, so batched
serving returns exactly the images an unbatched call would.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from fitting_room.errors import FittingRoomError
from fitting_room.serving.images import png_base64
from fitting_room.serving.schemas import SEED_MAX, ImageJob


class RequestError(FittingRoomError):
    """A request is well-formed JSON but asks for something impossible; names the field."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.status = status


class Drawer(Protocol):
    """What the studio needs from a generator (see :mod:`fitting_room.serving.bundle`)."""

    @property
    def class_names(self) -> list[str]: ...

    def latents(self, seeds: np.ndarray) -> np.ndarray: ...

    def draw(self, labels: np.ndarray, latents: np.ndarray) -> np.ndarray: ...


class Studio:
    """Plans and renders images with one generator."""

    def __init__(self, drawer: Drawer) -> None:
        self.drawer = drawer
        self._index = {name.lower(): i for i, name in enumerate(drawer.class_names)}

    @property
    def class_names(self) -> list[str]:
        return list(self.drawer.class_names)

    def category_index(self, value: str | int, field: str = "category") -> int:
        """Index of a class given by name (any case) or index.

        Raises:
            RequestError: naming ``field`` and listing the known classes.
        """
        if isinstance(value, bool):  # bool is an int in Python; true/false is not a category
            raise RequestError(field, f"expected a class name or index, got {value!r}")
        if isinstance(value, int):
            if 0 <= value < len(self._index):
                return value
            raise RequestError(field, f"index {value} out of range 0..{len(self._index) - 1}")
        key = str(value).strip().lower()
        if key.isdigit():
            return self.category_index(int(key), field)
        if key not in self._index:
            raise RequestError(field, f"unknown category {value!r}; known: {', '.join(self.class_names)}")
        return self._index[key]

    def plan(self, label: int, n: int, seed: int, interpolate_to: int | None = None) -> list[ImageJob]:
        """Jobs for ``n`` images of class ``label`` from one seed, or on the path from it to another seed."""
        if interpolate_to is None:
            from fitting_room.seeds import derive_seeds

            # the GAN's own convention: image i of seed S is the same whatever n is, and the
            # same as `fitting-room generate --seed S` writes
            return [ImageJob(label=label, seed=int(s)) for s in derive_seeds(seed, n)]
        steps = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
        return [ImageJob(label=label, seed=seed, seed_to=interpolate_to, t=float(t)) for t in steps]

    def preview_job(self, label: int, item_id: str, base_seed: int) -> ImageJob:
        """The job of an item's preview: a stable seed from its id, so a garment always looks the same."""
        seed = (base_seed + zlib.crc32(item_id.encode("utf-8"))) % (SEED_MAX + 1)
        return ImageJob(label=label, seed=seed)

    def render(self, jobs: Sequence[ImageJob]) -> list[str]:
        """Draw every job in one generator call; base64 PNGs in job order.

        A job whose label the generator does not know gets ``""`` instead of an image: jobs of
        many requests share this call, so one bad job must not fail its batch neighbours.
        (The public endpoints validate categories before planning, so only direct calls of the
        internal ``/render`` API can hit this.)
        """
        if not jobs:
            return []
        known = [i for i, job in enumerate(jobs) if job.label < len(self._index)]
        out = [""] * len(jobs)
        if not known:
            return out
        jobs = [jobs[i] for i in known]
        labels = np.array([job.label for job in jobs], dtype=np.int32)
        z = self.drawer.latents(np.array([job.seed for job in jobs], dtype=np.int64))
        moving = [i for i, job in enumerate(jobs) if job.seed_to is not None and job.t > 0]
        if moving:
            ends = self.drawer.latents(np.array([jobs[i].seed_to for i in moving], dtype=np.int64))
            ts = np.array([jobs[i].t for i in moving], dtype=np.float64)
            z = z.copy()
            z[moving] = slerp(z[moving], ends, ts)
        for i, image in zip(known, self.drawer.draw(labels, z), strict=True):
            out[i] = png_base64(image)
        return out


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation row by row: Gaussian latents keep their typical norm on the path.

    A straight line between two Gaussian samples passes close to the origin, where a GAN
    draws washed-out images; the great circle keeps every point a plausible latent.
    """
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na = np.linalg.norm(a64, axis=1, keepdims=True)
    nb = np.linalg.norm(b64, axis=1, keepdims=True)
    cos = np.clip(np.sum(a64 * b64, axis=1, keepdims=True) / np.maximum(na * nb, 1e-12), -1.0, 1.0)
    omega = np.arccos(cos)
    t = t.reshape(-1, 1)
    sin = np.sin(omega)
    near = sin < 1e-6  # (anti)parallel: fall back to the straight line
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * omega) / np.where(near, 1.0, sin))
    wb = np.where(near, t, np.sin(t * omega) / np.where(near, 1.0, sin))
    return (wa * a64 + wb * b64).astype(a.dtype)
