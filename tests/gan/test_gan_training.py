"""The train_gan stage: params checked before training, resume after a kill, NaN guard, behaviour."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gan_builders import PARAMS, SHAPE_CLASSES, smoke_config

from fitting_room.config import ConfigError
from fitting_room.errors import DataError, FittingRoomError

FITTING_ROOM = Path(sys.executable).parent / "fitting-room"


def test_latent_size_zero_fails_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match="gan.generator.latent_dim"):
        smoke_config(tmp_path, "gan.generator.latent_dim=0")


def test_unknown_metric_name_fails_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"evaluation.metrics.*unknown metric\(s\) \['fidd'\]"):
        smoke_config(tmp_path, "evaluation.metrics=[fidd, kid]")


def test_gate_on_a_metric_nobody_computes_fails_before_training(tmp_path):
    with pytest.raises(ConfigError, match="gate uses metric"):
        smoke_config(tmp_path, "evaluation.metrics=[fid]", "evaluation.gate.compare={}")


def test_resolution_not_matching_the_data_fails_before_training(tmp_path, shapes_dir):
    from fitting_room.gan.train import train_gan

    cfg = smoke_config(
        tmp_path,
        "data.images.source=catalog",
        f"data.images.catalog.dir={tmp_path}",
        "data.images.resolution=64",
        "data.images.channels=3",
    )
    with pytest.raises(DataError, match="data.images.resolution is 64"):
        train_gan(cfg, shapes_dir, use_mlflow=False)
    assert not Path(cfg.gan.checkpoint_dir).exists()  # nothing was trained or written


def test_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, shapes_dir):
    from fitting_room.gan.checkpoint import read_checkpoint_meta
    from fitting_room.gan.train import train_gan

    # an absurd learning rate drives the weights to inf within a few steps
    cfg = smoke_config(
        tmp_path,
        "gan.training.d_lr=1.0e+38",
        "gan.training.g_lr=1.0e+38",
        "gan.training.checkpoint_every=1",
        "gan.training.monitor_images_per_class=0",
    )
    with pytest.raises(FittingRoomError, match=r"non-finite loss at step (\d+)") as err:
        train_gan(cfg, shapes_dir, use_mlflow=False)
    bad_step = int(err.value.args[0].split("step ")[1].split(";")[0])
    kept = read_checkpoint_meta(cfg.gan.checkpoint_dir)
    assert kept is None or kept["step"] < bad_step
    assert not Path(cfg.gan.model_dir, "generator.keras").exists()  # nothing promoted downstream


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint_with_the_same_config(tmp_path, shapes_dir, mlflow_uri):
    from fitting_room.gan.checkpoint import read_checkpoint_meta
    from fitting_room.gan.train import train_gan

    overrides = [
        "gan.training.steps=100000",
        "gan.training.checkpoint_every=10",
        "gan.training.monitor_images_per_class=0",
    ]
    cfg = smoke_config(tmp_path, *overrides)
    ckpt = Path(cfg.gan.checkpoint_dir)
    cmd = [str(FITTING_ROOM), "--params", str(PARAMS), "--profile", "smoke"]
    for item in [
        f"gan.checkpoint_dir={ckpt}",
        f"gan.model_dir={cfg.gan.model_dir}",
        f"tracking.artifact_root={tmp_path / 'art'}",
        *overrides,
    ]:
        cmd += ["--set", item]
    proc = subprocess.Popen(
        [*cmd, "train-gan", "--images-dir", str(shapes_dir)],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while (read_checkpoint_meta(ckpt) or {}).get("step", 0) < 20:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 2 minutes"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = read_checkpoint_meta(ckpt)["step"]
    assert killed_at >= 20 and killed_at % 10 == 0

    resumed = train_gan(
        smoke_config(tmp_path, *overrides[1:], f"gan.training.steps={killed_at + 10}"),
        shapes_dir,
        use_mlflow=False,
    )
    assert resumed.start_step == killed_at
    assert resumed.step == killed_at + 10
    assert read_checkpoint_meta(ckpt)["step"] == killed_at + 10
    assert all(np.isfinite(h["d_loss"]) and np.isfinite(h["g_loss"]) for h in resumed.history)


@pytest.mark.slow
def test_a_dress_request_yields_images_the_classifier_calls_dresses(tmp_path, shapes_dir):
    from fitting_room.evaluation.classifier import load_or_train_classifier, predict
    from fitting_room.gan.generate import generate, load_generator, resolve_category
    from fitting_room.gan.train import train_gan
    from fitting_room.seeds import derive_seeds

    cfg = smoke_config(
        tmp_path,
        "gan.training.steps=400",
        "gan.training.steps_per_epoch=100",
        "gan.training.monitor_images_per_class=0",
    )
    result = train_gan(cfg, shapes_dir, use_mlflow=False)
    assert result.step == 400 and result.stopped_by == "steps"
    generator = load_generator(result.model_dir)
    dress = resolve_category("Dress", generator.class_names)
    assert generator.class_names[dress] == "dress" == SHAPE_CLASSES[dress]
    images = generate(generator, np.full(50, dress), derive_seeds(0, 50))
    classifier = load_or_train_classifier(shapes_dir, cfg.evaluation.classifier, cfg.seed)
    assert (predict(classifier, images) == dress).mean() >= 0.75  # chance is 0.33
    meta = json.loads(Path(result.model_dir, "generator.json").read_text())
    assert meta["config"]["gan"]["generator"]["latent_dim"] == cfg.gan.generator.latent_dim
    assert meta["class_names"] == list(SHAPE_CLASSES)
    training = meta["training"]  # what benchmarks/gan_quality.py --ours-model-dir compares against
    assert training["start_step"] == 0 and training["stopped_by"] == "steps"
    assert training["seconds"] > 0 and training["images_per_second_steady"] > 0
    assert training["late_class_loss_from_step"] is None  # step 16000 and 70% of 3 minutes: neither reached


@pytest.mark.slow
def test_training_logs_losses_speed_quality_samples_and_a_servable_model_to_mlflow(
    tmp_path, shapes_dir, mlflow_uri
):
    import mlflow
    import pandas as pd

    from fitting_room.gan.train import train_gan

    cfg = smoke_config(tmp_path, "gan.training.steps=40")  # 2 epochs of 20 steps
    result = train_gan(cfg, shapes_dir)
    run = mlflow.get_run(result.run_id)
    for key in ("d_loss", "g_loss", "images_per_second", "quick_fid", "quick_class_accuracy"):
        history = mlflow.MlflowClient().get_metric_history(result.run_id, key)
        assert [m.step for m in history] == [20, 40], key
    assert run.data.tags["stage"] == "train_gan"
    samples = mlflow.MlflowClient().list_artifacts(result.run_id, "samples")
    assert len(samples) == 2

    (used,) = run.inputs.dataset_inputs  # the training data, by the hash DVC records for it
    assert (used.dataset.name, used.tags[0].value) == ("images-train", "training")
    assert used.dataset.digest == hashlib.md5((shapes_dir / "train.npz").read_bytes()).hexdigest()
    # the model is logged once, where it is scored and registered (evaluate_gan), not here
    assert not mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")

    from fitting_room.gan.mlflow_model import log_generator_model

    with mlflow.start_run():
        info = log_generator_model(cfg.gan.model_dir)
    model = mlflow.pyfunc.load_model(info.model_uri)
    images = model.predict(pd.DataFrame({"category": ["dress", "dress", "0"], "seed": [1, 1, 2]}))
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], images[1])


def test_training_ignores_a_checkpoint_of_another_configuration_and_starts_afresh(tmp_path, shapes_dir):
    from fitting_room.gan.checkpoint import read_checkpoint_meta
    from fitting_room.gan.train import train_gan

    base = [
        "gan.training.steps=4",
        "gan.training.checkpoint_every=2",
        "gan.training.monitor_images_per_class=0",
    ]
    train_gan(smoke_config(tmp_path, *base), shapes_dir, use_mlflow=False)
    old = read_checkpoint_meta(smoke_config(tmp_path).gan.checkpoint_dir)["fingerprint"]
    with pytest.warns(UserWarning, match="another gan/data configuration ignored"):
        again = train_gan(
            smoke_config(tmp_path, *base, "gan.training.g_lr=0.0003"), shapes_dir, use_mlflow=False
        )
    assert again.start_step == 0 and again.step == 4
    assert read_checkpoint_meta(smoke_config(tmp_path).gan.checkpoint_dir)["fingerprint"] != old
