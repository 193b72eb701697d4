"""The GAN's building blocks: one train step, EMA, deterministic generation, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from gan_builders import smoke_config

from fitting_room.data.images import load_split


@pytest.fixture
def gan(tmp_path, shapes_dir):
    from fitting_room.gan.train import build_gan

    cfg = smoke_config(tmp_path)
    return build_gan(cfg, load_split(shapes_dir, "train"), mixed_precision=False)


def _batch(shapes_dir, n=16):
    import tensorflow as tf

    split = load_split(shapes_dir, "train")
    pick = np.random.default_rng(0).choice(len(split.images), n, replace=False)
    return tf.constant(split.images[pick] / 127.5 - 1, tf.float32), tf.constant(split.labels[pick], tf.int32)


def test_train_step_changes_weights_and_returns_finite_losses(gan, shapes_dir):
    g_before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    logs = gan.train_step(_batch(shapes_dir))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(
        not np.allclose(a, b.numpy()) for a, b in zip(g_before, gan.generator.trainable_weights, strict=True)
    )
    assert any(
        not np.allclose(a, b.numpy())
        for a, b in zip(d_before, gan.discriminator.trainable_weights, strict=True)
    )
    assert int(gan.step.numpy()) == 1


def test_ema_generator_moves_towards_the_generator_by_one_minus_decay(gan, shapes_dir):
    before = gan.ema_generator.trainable_weights[0].numpy().copy()
    gan.train_step(_batch(shapes_dir))
    g = gan.generator.trainable_weights[0].numpy()
    expected = gan.ema_decay * before + (1 - gan.ema_decay) * g
    np.testing.assert_allclose(gan.ema_generator.trainable_weights[0].numpy(), expected, rtol=1e-5, atol=1e-7)


def test_same_seed_gives_the_same_image_whatever_else_is_in_the_batch(gan):
    from fitting_room.gan.generate import generate

    alone = generate(gan.ema_generator, [1], [7])
    in_batch = generate(gan.ema_generator, [0, 1, 2, 1], [3, 7, 9, 8])
    assert alone.dtype == np.uint8 and alone.shape == (1, 28, 28, 1)
    np.testing.assert_array_equal(alone[0], in_batch[1])
    assert not np.array_equal(in_batch[1], in_batch[3])  # another seed, another image


def test_saved_generator_loads_and_generates_identical_images(gan, tmp_path):
    from fitting_room.gan.generate import generate, load_generator, save_generator
    from fitting_room.seeds import derive_seeds

    save_generator(
        gan.ema_generator, {"class_names": ["bar", "dress", "ring"], "latent_dim": 16}, tmp_path / "g"
    )
    loaded = load_generator(tmp_path / "g")
    labels, seeds = np.array([0, 1, 2, 1]), derive_seeds(5, 4)
    np.testing.assert_array_equal(generate(gan.ema_generator, labels, seeds), generate(loaded, labels, seeds))
    assert loaded.class_names == ["bar", "dress", "ring"]
    assert not list((tmp_path / "g").glob(".*tmp*"))  # no temp files left behind


def test_checkpoint_restores_every_variable_so_the_next_step_is_identical(tmp_path, shapes_dir):
    from fitting_room.gan.checkpoint import build_optimizers, restore_checkpoint, save_checkpoint
    from fitting_room.gan.train import build_gan

    cfg = smoke_config(tmp_path)
    split = load_split(shapes_dir, "train")
    batch = _batch(shapes_dir)
    first = build_gan(cfg, split, mixed_precision=False)
    build_optimizers(first)
    first.train_step(batch)
    save_checkpoint(first, tmp_path / "ckpt", {"fingerprint": "f"})
    second = build_gan(cfg, split, mixed_precision=False)
    build_optimizers(second)
    assert restore_checkpoint(second, tmp_path / "ckpt", "f")["step"] == 1

    for tracker in first.metrics:  # trackers are running means; compare this step's losses only
        tracker.reset_state()
    a, b = first.train_step(batch), second.train_step(batch)
    assert float(a["d_loss"]) == pytest.approx(float(b["d_loss"]), rel=1e-5)
    assert float(a["g_loss"]) == pytest.approx(float(b["g_loss"]), rel=1e-5)
    assert int(second.step.numpy()) == 2


def test_checkpoint_of_another_architecture_refuses_to_resume(gan, tmp_path):
    from fitting_room.errors import FittingRoomError
    from fitting_room.gan.checkpoint import build_optimizers, restore_checkpoint, save_checkpoint

    build_optimizers(gan)
    save_checkpoint(gan, tmp_path / "ckpt", {"fingerprint": "old"})
    with pytest.raises(FittingRoomError, match="different gan/data configuration"):
        restore_checkpoint(gan, tmp_path / "ckpt", "new")


@pytest.mark.parametrize(("resolution", "plan"), [(28, (7, 2)), (64, (4, 4)), (32, (4, 3))])
def test_generator_reaches_the_configured_resolution(resolution, plan):
    from fitting_room.config.gan import DiscriminatorArch, GeneratorArch
    from fitting_room.gan.networks import build_discriminator, build_generator, upsampling_plan

    assert upsampling_plan(resolution, 4) == plan
    g = build_generator(GeneratorArch(latent_dim=8, width=16), resolution, 3, 5)
    d = build_discriminator(DiscriminatorArch(width=8), resolution, 3, 5)
    images = g([np.zeros((2, 8), np.float32), np.array([0, 4])])
    assert images.shape == (2, resolution, resolution, 3)
    score, logits = d([np.asarray(images), np.array([0, 4])])
    assert score.shape == (2, 1) and logits.shape == (2, 5)


def test_class_loss_weight_switches_at_the_late_step(tmp_path, shapes_dir):
    from fitting_room.gan.train import build_gan

    cfg = smoke_config(
        tmp_path,
        "gan.training.aux_weight=0.5",
        "gan.training.aux_weight_late=0.1",
        "gan.training.aux_late_step=3",
    )
    gan = build_gan(cfg, load_split(shapes_dir, "train"), mixed_precision=False)
    weights = []
    for _ in range(5):
        weights.append(round(float(gan.aux_weight_now()), 6))
        gan.train_step(_batch(shapes_dir))
    assert weights == [0.5, 0.5, 0.5, 0.1, 0.1]  # steps 0-2 early, 3 on late


def test_without_a_late_weight_the_class_loss_weight_stays(tmp_path, shapes_dir):
    from fitting_room.gan.train import build_gan

    cfg = smoke_config(tmp_path, "gan.training.aux_weight=0.5", "gan.training.aux_weight_late=null")
    gan = build_gan(cfg, load_split(shapes_dir, "train"), mixed_precision=False)
    gan.step.assign(10**6)
    assert float(gan.aux_weight_now()) == pytest.approx(0.5)


def test_budget_share_moves_the_late_class_loss_forward_and_a_resume_keeps_it(tmp_path, shapes_dir):
    from fitting_room.gan.checkpoint import build_optimizers, restore_checkpoint, save_checkpoint
    from fitting_room.gan.schedule import LateClassLoss
    from fitting_room.gan.train import build_gan

    cfg = smoke_config(
        tmp_path,
        "gan.training.aux_weight=0.5",
        "gan.training.aux_weight_late=0.1",
        "gan.training.aux_late_step=1000",
    )
    split = load_split(shapes_dir, "train")
    gan = build_gan(cfg, split, mixed_precision=False)
    waiting, due = LateClassLoss(after_seconds=3600), LateClassLoss(after_seconds=0)
    waiting.set_model(gan)
    due.set_model(gan)
    gan.train_step(_batch(shapes_dir))
    gan.train_step(_batch(shapes_dir))
    waiting.on_train_batch_end(1)
    assert float(gan.aux_weight_now()) == pytest.approx(0.5)  # neither the step nor the time is due
    due.on_train_batch_end(1)
    assert due.switched_at == 2 and float(gan.aux_weight_now()) == pytest.approx(0.1)

    build_optimizers(gan)
    save_checkpoint(gan, tmp_path / "ckpt", {"fingerprint": "f"})
    resumed = build_gan(cfg, split, mixed_precision=False)
    build_optimizers(resumed)
    assert float(resumed.aux_weight_now()) == pytest.approx(0.5)
    restore_checkpoint(resumed, tmp_path / "ckpt", "f")
    assert int(resumed.late_from.numpy()) == 2 and float(resumed.aux_weight_now()) == pytest.approx(0.1)


def test_a_checkpoint_without_the_schedule_restores_with_the_configured_step(tmp_path, shapes_dir):
    from fitting_room.gan.checkpoint import build_optimizers, restore_checkpoint, save_checkpoint
    from fitting_room.gan.train import build_gan

    cfg = smoke_config(tmp_path, "gan.training.aux_weight_late=0.1", "gan.training.aux_late_step=7")
    gan = build_gan(cfg, load_split(shapes_dir, "train"), mixed_precision=False)
    build_optimizers(gan)
    path = save_checkpoint(gan, tmp_path / "ckpt", {"fingerprint": "f"})
    with np.load(path) as npz:  # what an earlier release wrote: no schedule group
        arrays = {k: npz[k] for k in npz.files if not k.startswith("schedule/")}
    np.savez(path, **arrays)
    gan.late_from.assign(0)
    restore_checkpoint(gan, tmp_path / "ckpt", "f")
    assert int(gan.late_from.numpy()) == 0  # left as it was, not an error
    fresh = build_gan(cfg, load_split(shapes_dir, "train"), mixed_precision=False)
    assert int(fresh.late_from.numpy()) == 7
