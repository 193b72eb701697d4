"""Evaluation plots: per-class data for DVC plots, and PNG figures for people and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fitting_room.evaluation.metric_inputs import Features
from fitting_room.files import atomic_write, atomic_write_text


def per_class_rows(
    real: Features, fake: Features, metrics: dict[str, float], class_names: list[str]
) -> list[dict]:
    """One row per class: conditional accuracy of generated images, real accuracy, diversity ratio."""
    rows = []
    for c, name in enumerate(class_names):
        f, r = fake.labels == c, real.labels == c
        rows.append(
            {
                "class": name,
                "generated_accuracy": float((fake.predicted[f] == c).mean()) if f.any() else float("nan"),
                "real_accuracy": float((real.predicted[r] == c).mean()) if r.any() else float("nan"),
                "diversity_ratio": float(metrics.get(f"diversity_class_{c}", float("nan"))),
            }
        )
    return rows


def write_plots(rows: list[dict], grid: np.ndarray, plots_dir: str | Path) -> list[Path]:
    """Write ``per_class.json`` (DVC plot data), ``per_class.png`` and ``samples.png`` atomically."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt
    from PIL import Image

    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    written = []

    written.append(atomic_write_text(plots_dir / "per_class.json", json.dumps(rows, indent=2)))

    fig, ax = plt.subplots(figsize=(8, 3.5))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["generated_accuracy"] for r in rows], 0.4, label="generated: class accuracy")
    ax.bar(x + 0.2, [r["diversity_ratio"] for r in rows], 0.4, label="generated/real diversity")
    ax.axhline(1.0, color="grey", lw=0.5)
    ax.set_xticks(x, [r["class"] for r in rows], rotation=30, ha="right")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    written.append(atomic_write(plots_dir / "per_class.png", fig.savefig, suffix=".png"))
    plt.close(fig)

    written.append(atomic_write(plots_dir / "samples.png", Image.fromarray(grid).save, suffix=".png"))
    return written
