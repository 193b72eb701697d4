"""Image-quality metrics in the domain classifier's feature space (named in the metric registry).

FID and KID compare feature distributions; precision and recall use k-NN manifolds
(Kynkäänniemi et al. 2019); class accuracy asks the classifier whether a "dress" request
looks like a dress; diversity compares within-class spread with the real data, which
catches mode collapse that FID averages away. ``real_floor`` and ``noisy_real`` score real
train images (clean / with pixel noise) against the test split: the best a generator can
hope for, and a self-calibrating target.
"""

from __future__ import annotations

import warnings

import numpy as np

from fitting_room.evaluation.metric_inputs import Features, MetricInputs

_CHUNK = 1024  # rows per distance block: bounds memory at ~CHUNK x N floats


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.cov(a.astype(np.float64), rowvar=False)
    cov_b = np.cov(b.astype(np.float64), rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # handled just below
        covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        # singular product: nudge both diagonals, as the reference implementation does
        eps = np.eye(cov_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def kernel_distance(
    a: np.ndarray, b: np.ndarray, subsets: int, subset_size: int, seed: int
) -> tuple[float, float]:
    """Unbiased MMD² with the cubic polynomial kernel (KID), mean and std over random subsets."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(a), len(b))
    d = a.shape[1]
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)].astype(np.float64)
        y = b[rng.choice(len(b), m, replace=False)].astype(np.float64)
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        off = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(off - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def _sq_dists(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * x @ y.T
    return np.maximum(d, 0)


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row to its k-th nearest other row."""
    radii = np.empty(len(x), np.float32)
    for i in range(0, len(x), _CHUNK):
        d = _sq_dists(x[i : i + _CHUNK], x)
        radii[i : i + _CHUNK] = np.partition(d, k, axis=1)[:, k]  # index 0 is the row itself
    return radii


def manifold_coverage(manifold: np.ndarray, radii: np.ndarray, queries: np.ndarray) -> float:
    """Share of ``queries`` inside at least one k-NN ball of ``manifold``."""
    inside = np.zeros(len(queries), bool)
    for i in range(0, len(queries), _CHUNK):
        d = _sq_dists(queries[i : i + _CHUNK], manifold)
        inside[i : i + _CHUNK] = (d <= radii[None, :]).any(1)
    return float(inside.mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Improved precision (fake on the real manifold) and recall (real on the fake manifold)."""
    real = real.astype(np.float32)
    fake = fake.astype(np.float32)
    precision = manifold_coverage(real, knn_radii(real, k), fake)
    recall = manifold_coverage(fake, knn_radii(fake, k), real)
    return precision, recall


def mean_pairwise_distance(x: np.ndarray, max_rows: int = 500, seed: int = 0) -> float:
    """Average Euclidean distance between distinct rows (on a subsample for speed)."""
    if len(x) > max_rows:
        x = x[np.random.default_rng(seed).choice(len(x), max_rows, replace=False)]
    if len(x) < 2:
        return float("nan")
    d = np.sqrt(_sq_dists(x.astype(np.float64), x.astype(np.float64)))
    return float(d.sum() / (len(x) * (len(x) - 1)))


def _distribution_metrics(inputs: MetricInputs, other: Features, prefix: str) -> dict[str, float]:
    real = inputs.real.features
    kid, kid_std = kernel_distance(
        real, other.features, inputs.kid_subsets, inputs.kid_subset_size, inputs.seed
    )
    precision, recall = precision_recall(real, other.features, inputs.knn_k)
    return {
        f"{prefix}fid": frechet_distance(real, other.features),
        f"{prefix}kid": kid,
        f"{prefix}precision": precision,
        f"{prefix}recall": recall,
        f"{prefix}class_accuracy": float((other.predicted == other.labels).mean()),
    }


def fid(inputs: MetricInputs) -> dict[str, float]:
    """Fréchet distance of generated vs real test features (lower is better)."""
    return {"fid": frechet_distance(inputs.real.features, inputs.fake.features)}


def kid(inputs: MetricInputs) -> dict[str, float]:
    """Kernel distance of generated vs real test features (lower is better; unbiased for small N)."""
    mean, std = kernel_distance(
        inputs.real.features, inputs.fake.features, inputs.kid_subsets, inputs.kid_subset_size, inputs.seed
    )
    return {"kid": mean, "kid_std": std}


def class_accuracy(inputs: MetricInputs) -> dict[str, float]:
    """Share of generated images the classifier assigns to the requested class."""
    acc = float((inputs.fake.predicted == inputs.fake.labels).mean())
    real_acc = float((inputs.real.predicted == inputs.real.labels).mean())
    return {
        "class_accuracy": acc,
        "classifier_real_accuracy": real_acc,
        "class_accuracy_ratio": acc / real_acc,
    }


def precision_recall_metric(inputs: MetricInputs) -> dict[str, float]:
    """k-NN manifold precision (fidelity) and recall (coverage) of generated vs real test."""
    precision, recall = precision_recall(inputs.real.features, inputs.fake.features, inputs.knn_k)
    return {"precision": precision, "recall": recall}


def diversity(inputs: MetricInputs) -> dict[str, float]:
    """Per-class spread of generated features relative to real ones (1.0 = as varied as real).

    A collapsed class scores near 0 even when FID, dominated by the other classes, looks fine.
    """
    out: dict[str, float] = {}
    ratios = []
    for c in range(inputs.num_classes):
        fake = inputs.fake.features[inputs.fake.labels == c]
        real = inputs.real.features[inputs.real.labels == c]
        if len(fake) < 2 or len(real) < 2:
            continue
        ratio = mean_pairwise_distance(fake, seed=inputs.seed) / mean_pairwise_distance(
            real, seed=inputs.seed
        )
        out[f"diversity_class_{c}"] = ratio
        ratios.append(ratio)
    out["diversity_min_ratio"] = float(np.min(ratios)) if ratios else float("nan")
    out["diversity_mean_ratio"] = float(np.mean(ratios)) if ratios else float("nan")
    return out


def real_floor(inputs: MetricInputs) -> dict[str, float]:
    """The same distribution metrics for real train images vs test: the best achievable."""
    return _distribution_metrics(inputs, inputs.reference("train"), "real_floor_")


def noisy_real(inputs: MetricInputs) -> dict[str, float]:
    """Real train images with Gaussian pixel noise vs test: the self-calibrating quality target."""
    return _distribution_metrics(inputs, inputs.reference("noisy_train"), "noisy_real_")
