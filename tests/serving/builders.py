"""Tiny real models in a private BentoML store, for the serving tests."""

from __future__ import annotations

from pathlib import Path

from fitting_room.config.data import FASHION_MNIST_CLASSES


def store_generator(tmp: Path) -> str:
    """An untrained (0-step) but real conditional generator, saved by the GAN's own code."""
    import bentoml

    from fitting_room.config.gan import GeneratorArch
    from fitting_room.gan.generate import save_generator
    from fitting_room.gan.networks import build_generator

    arch = GeneratorArch(latent_dim=16, width=32)
    model = build_generator(arch, resolution=28, channels=1, num_classes=len(FASHION_MNIST_CLASSES))
    folder = save_generator(
        model,
        {"class_names": list(FASHION_MNIST_CLASSES), "latent_dim": arch.latent_dim, "resolution": 28},
        tmp / "gan",
    )
    labels = {"mlflow_version": "1", "git_commit": "test", "data_version": "test", "params_hash": "test"}
    with bentoml.models.create("fitting-room-generator", labels=labels) as stored:
        for file in folder.iterdir():
            (Path(stored.path) / file.name).write_bytes(file.read_bytes())
    return str(stored.tag)


def build_store(home: Path) -> dict[str, str]:
    """Fill the BentoML store at ``home`` (run in a subprocess: BENTOML_HOME is read once)."""
    return {"generator": store_generator(home / "work")}


if __name__ == "__main__":
    import json
    import os
    import sys

    os.environ["BENTOML_HOME"] = sys.argv[1]
    print(json.dumps(build_store(Path(sys.argv[1]))))
