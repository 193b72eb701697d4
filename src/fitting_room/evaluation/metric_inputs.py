"""What every image-quality metric reads: classifier features of real and generated images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Features:
    """Classifier view of one image set: penultimate features, labels and predictions."""

    features: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) requested class (generated) or true class (real)
    predicted: np.ndarray  # (N,) classifier argmax


@dataclass
class MetricInputs:
    """What metrics read: the real test split, the generated set, and lazily built references."""

    real: Features
    fake: Features
    num_classes: int
    knn_k: int = 3
    kid_subsets: int = 10
    kid_subset_size: int = 1000
    seed: int = 0
    real_accuracy: float = float("nan")  # classifier accuracy on the real test split
    references: dict[str, Callable[[], Features]] = field(default_factory=dict)
    _cache: dict[str, Features] = field(default_factory=dict, repr=False)

    def reference(self, name: str) -> Features:
        """A named real reference set (e.g. ``train``, ``noisy_train``), built on first use."""
        if name not in self._cache:
            if name not in self.references:
                raise KeyError(f"metric needs reference image set {name!r}, which was not provided")
            self._cache[name] = self.references[name]()
        return self._cache[name]
