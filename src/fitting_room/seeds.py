"""Per-image seeds: what makes a generated image reproducible, shared by generation and scoring."""

from __future__ import annotations

import numpy as np


def derive_seeds(seed: int, n: int) -> np.ndarray:
    """``n`` per-image seeds from one request seed (image i of seed S is the same for any n)."""
    return np.array([np.random.SeedSequence([seed, i]).generate_state(1)[0] for i in range(n)], np.uint64)
