"""Tiny real models in a private BentoML store, for the serving tests."""

from __future__ import annotations

from pathlib import Path

from fitting_room.config.data import FASHION_MNIST_CLASSES

CATALOG_ITEMS = 60  # items in the synthetic catalog of the test guide


def save_tiny_generator(tmp: Path) -> Path:
    """An untrained (0-step) but real conditional generator, saved by the GAN's own code."""
    from fitting_room.config.gan import GeneratorArch
    from fitting_room.gan.generate import save_generator
    from fitting_room.gan.networks import build_generator

    arch = GeneratorArch(latent_dim=16, width=32)
    model = build_generator(arch, resolution=28, channels=1, num_classes=len(FASHION_MNIST_CLASSES))
    return save_generator(
        model,
        {"class_names": list(FASHION_MNIST_CLASSES), "latent_dim": arch.latent_dim, "resolution": 28},
        tmp / "gan",
    )


def store_generator(tmp: Path) -> str:
    """The tiny generator in the BentoML store, as the package stage would import it."""
    import bentoml

    folder = save_tiny_generator(tmp)
    labels = {"mlflow_version": "1", "git_commit": "test", "data_version": "test", "params_hash": "test"}
    with bentoml.models.create("fitting-room-generator", labels=labels) as stored:
        for file in folder.iterdir():
            (Path(stored.path) / file.name).write_bytes(file.read_bytes())
    return str(stored.tag)


def build_guide(folder: Path) -> Path:
    """A small but real shopping guide trained by its own code on synthetic shoppers."""
    from fitting_room.config.recommender import AdvisorConfig, RankerConfig
    from fitting_room.recommender.advisor import train_advisor
    from fitting_room.recommender.body import fit_body_model
    from fitting_room.recommender.catalog import build_catalog
    from fitting_room.recommender.guide import save_guide
    from fitting_room.recommender.splits import random_split
    from fitting_room.recommender.synthetic import make_shoppers

    tx, _, _ = make_shoppers(n_transactions=2000, n_shoppers=400, n_items=CATALOG_ITEMS, seed=3)
    train, val, _ = random_split(tx, 0.1, 0.1, seed=0)
    small = AdvisorConfig(num_boost_round=60, num_leaves=15, min_data_in_leaf=10, n_folds=3, num_threads=1)
    advisor, _ = train_advisor(train, val, small, seed=0)
    classes = {"dress": "dress", "gown": "dress", "pants": "trouser", "top": "t-shirt/top", "jacket": "coat"}
    ranker = RankerConfig(candidates=40)
    index = build_catalog(tx, ranker, classes, "dress")
    return save_guide(folder, advisor, index, ranker, {"rows": len(tx)}, fit_body_model(tx))


def store_folder(name: str, folder: Path, labels: dict[str, str]) -> str:
    import shutil

    import bentoml

    with bentoml.models.create(name, labels=labels) as stored:
        shutil.copytree(folder, Path(stored.path) / "guide", dirs_exist_ok=True)
    return str(stored.tag)


def build_store(home: Path) -> dict[str, str]:
    """Fill the BentoML store at ``home`` (run in a subprocess: BENTOML_HOME is read once)."""
    guide = build_guide(home / "work" / "guide")
    labels = {"mlflow_version": "1", "git_commit": "test", "data_version": "test", "params_hash": "test"}
    return {
        "generator": store_generator(home / "work"),
        "guide": store_folder("fitting-room-guide", guide, labels),
    }


if __name__ == "__main__":
    import json
    import os
    import sys

    os.environ["BENTOML_HOME"] = sys.argv[1]
    print(json.dumps(build_store(Path(sys.argv[1]))))
