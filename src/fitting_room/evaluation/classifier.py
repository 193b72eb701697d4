"""The domain classifier whose feature layer is the metric space for FID, KID, precision and recall.

Pretrained ImageNet networks cannot be downloaded here, and for Fashion-MNIST a classifier
trained on the train split is the usual feature extractor. It is cached under
``<cache_dir>/<data hash>-<config hash>/`` so every evaluation of the same data scores in
the same space, and a new data version gets a new classifier.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from fitting_room.config.gan import ClassifierConfig
from fitting_room.data.images import ImageSplit, data_hash, load_split
from fitting_room.evaluation.metric_inputs import Features
from fitting_room.files import atomic_write, atomic_write_json

MODEL_FILE = "classifier.keras"
META_FILE = "classifier.json"
FEATURE_LAYER = "features"


def build_classifier(cfg: ClassifierConfig, resolution: int, channels: int, num_classes: int) -> Any:
    """A small CNN: two conv blocks, a ``features`` dense layer, softmax over classes."""
    import keras
    from keras import layers

    x = keras.Input((resolution, resolution, channels), name="image")
    h = layers.Rescaling(1 / 127.5, offset=-1.0)(x)
    for i, width in enumerate((cfg.width, cfg.width * 2)):
        h = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{i}a")(h)
        h = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name=f"conv{i}b")(h)
        h = layers.BatchNormalization()(h)
    h = layers.GlobalAveragePooling2D()(h) if resolution > 32 else layers.Flatten()(h)
    h = layers.Dense(cfg.feature_dim, activation="relu", name=FEATURE_LAYER)(h)
    out = layers.Dense(num_classes, activation="softmax", name="probs")(layers.Dropout(0.3)(h))
    model = keras.Model(x, out, name="domain_classifier")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_classifier(cfg: ClassifierConfig, train: ImageSplit, seed: int) -> Any:
    """Fit the classifier on (at most ``max_train`` of) the train split."""
    import keras

    keras.utils.set_random_seed(seed)
    images, labels = train.images, train.labels
    if cfg.max_train and len(images) > cfg.max_train:
        pick = np.random.default_rng(seed).choice(len(images), cfg.max_train, replace=False)
        images, labels = images[pick], labels[pick]
    model = build_classifier(cfg, images.shape[1], images.shape[3], train.num_classes)
    model.fit(images, labels, batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=0, shuffle=True)
    return model


def classifier_dir(images_dir: str | Path, cfg: ClassifierConfig) -> Path:
    """Versioned cache folder: data hash plus a hash of the classifier settings."""
    settings = cfg.model_dump(mode="json", exclude={"cache_dir"})
    cfg_hash = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return Path(cfg.cache_dir) / f"{data_hash(images_dir)}-{cfg_hash}"


def load_or_train_classifier(images_dir: str | Path, cfg: ClassifierConfig, seed: int) -> Any:
    """The cached classifier for this data version, trained and cached on first use."""
    import keras

    folder = classifier_dir(images_dir, cfg)
    if (folder / MODEL_FILE).exists():
        return keras.models.load_model(folder / MODEL_FILE, compile=False)
    train, test = load_split(images_dir, "train"), load_split(images_dir, "test")
    model = train_classifier(cfg, train, seed)
    accuracy = float((predict(model, test.images) == test.labels).mean())
    meta = {
        "data_hash": folder.name.split("-")[0],
        "test_accuracy": accuracy,
        "config": cfg.model_dump(mode="json"),
    }
    atomic_write_json(folder / META_FILE, meta)
    # last: its presence marks a complete cache entry (Keras picks the format from .keras)
    atomic_write(folder / MODEL_FILE, model.save, suffix=".keras")
    return model


def predict(model: Any, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    return np.argmax(model.predict(images, batch_size=batch_size, verbose=0), axis=1)


def embed(model: Any, images: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> Features:
    """Feature-layer activations and predicted classes of uint8 ``images``."""
    import keras

    # direct calls on fixed-size batches: no per-call retracing, unlike a fresh predict()
    both = keras.Model(model.inputs[0], [model.get_layer(FEATURE_LAYER).output, model.outputs[0]])
    feats, preds = [], []
    for i in range(0, len(images), batch_size):
        f, p = both(images[i : i + batch_size].astype(np.float32), training=False)
        feats.append(np.asarray(f, np.float32))
        preds.append(np.argmax(np.asarray(p), axis=1))
    dim = int(model.get_layer(FEATURE_LAYER).output.shape[-1])
    return Features(
        np.concatenate(feats) if feats else np.zeros((0, dim), np.float32),
        np.asarray(labels),
        np.concatenate(preds) if preds else np.zeros(0, np.int64),
    )
