"""The ``train_gan`` stage: ingested images in, the EMA generator (with its preprocessing) out.

Read top to bottom: load and check the data, build the nets inside a distribution strategy,
restore the last checkpoint if there is one, ``fit`` until the step limit or the wall-clock
budget, then save the EMA generator, a final checkpoint, and log it all to MLflow.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fitting_room.config import Config
from fitting_room.data.images import ImageSplit, check_shape, data_hash, load_split
from fitting_room.errors import FittingRoomError


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    start_step: int  # step the run resumed from (0 for a fresh run)
    step: int  # step reached
    stopped_by: str  # "steps", "budget" or "already_done"
    images_per_second: float
    history: list[dict[str, float]] = field(default_factory=list)
    run_id: str | None = None


def choose_strategy() -> Any:
    """Several GPUs -> mirrored; one GPU -> that device; otherwise the default (CPU) strategy."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if gpus:
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    return tf.distribute.get_strategy()


def fingerprint(cfg: Config, split: ImageSplit, digest: str) -> str:
    """What must match to resume: nets, optimisation, seed, data; not the step limit, budget or logging."""
    t = cfg.gan.training
    free = {
        "steps",
        "budget_minutes",
        "checkpoint_every",
        "steps_per_epoch",
        "jit_compile",
        "sample_grid_per_class",
        "monitor_images_per_class",
        "shuffle_buffer",
    }
    key = {
        "generator": cfg.gan.generator.model_dump(),
        "discriminator": cfg.gan.discriminator.model_dump(),
        "training": t.model_dump(exclude=free),
        "seed": cfg.seed,
        "shape": list(split.images.shape[1:]),
        "classes": list(split.class_names),
        "data": digest,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def build_gan(cfg: Config, split: ImageSplit, mixed_precision: bool) -> Any:
    """Generator, discriminator, EMA copy and optimizers, compiled into one ConditionalGAN."""
    import keras

    from fitting_room.gan.model import ConditionalGAN
    from fitting_room.gan.networks import build_discriminator, build_generator

    res, ch, k = split.images.shape[1], split.images.shape[3], split.num_classes
    t = cfg.gan.training
    generator = build_generator(cfg.gan.generator, res, ch, k)
    ema = build_generator(cfg.gan.generator, res, ch, k)
    ema.set_weights(generator.get_weights())
    discriminator = build_discriminator(cfg.gan.discriminator, res, ch, k)

    def adam(lr: float) -> Any:
        opt = keras.optimizers.Adam(lr, beta_1=t.beta_1, beta_2=t.beta_2)
        return keras.optimizers.LossScaleOptimizer(opt) if mixed_precision else opt

    aux_late = None if t.aux_weight_late is None else (t.aux_late_step, t.aux_weight_late)
    gan = ConditionalGAN(
        generator, discriminator, ema, t.loss, t.ema_decay, t.aux_weight, seed=cfg.seed, aux_late=aux_late
    )
    gan.compile(d_optimizer=adam(t.d_lr), g_optimizer=adam(t.g_lr), jit_compile=t.jit_compile)
    return gan


def generator_meta(
    cfg: Config, split: ImageSplit, digest: str, step: int, training: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything serving needs besides the weights, plus where the model came from.

    ``training`` records how the last training process went (start step, wall seconds,
    throughput, stop reason), so a benchmark can compare against the pipeline's own run.
    """
    from fitting_room.tracking.lineage import git_commit

    return {
        "class_names": list(split.class_names),
        "resolution": int(split.images.shape[1]),
        "channels": int(split.images.shape[3]),
        "latent_dim": cfg.gan.generator.latent_dim,
        "value_range": [-1.0, 1.0],  # model output; uint8 = round((x + 1) * 127.5)
        "noise": "numpy default_rng(seed).standard_normal(latent_dim), one seed per image",
        "step": step,
        "data_hash": digest,
        "git_commit": git_commit(),
        "config": cfg.as_dict(),
        "training": training or {},
    }


def train_gan(cfg: Config, images_dir: str | Path | None = None, use_mlflow: bool = True) -> TrainResult:
    """Train (or resume training) the conditional GAN and save its EMA generator.

    Args:
        cfg: the resolved config (``gan``, ``data.images``, ``seed`` and, for the per-epoch
            quick metric, ``evaluation.classifier`` are read).
        images_dir: folder with ``train.npz``; defaults to ``data.images.out_dir``.
        use_mlflow: log params, per-epoch metrics, sample grids and the model to MLflow.

    Returns:
        Where the generator went, the steps done, why training stopped, and the history.

    Raises:
        DataError: when the images are missing or do not match ``data.images`` in params.
        FittingRoomError: on a non-finite loss (the last good checkpoint is kept).
    """
    images_dir = Path(images_dir or cfg.data.images.out_dir)
    split = load_split(images_dir, "train")
    check_shape(split, cfg.data.images.resolution, cfg.data.images.channels, str(images_dir / "train.npz"))
    if use_mlflow:
        from fitting_room.tracking.mlflow_runs import log_flat_params, stage_run

        with stage_run(cfg, "train_gan") as run:
            log_flat_params(cfg.gan.model_dump(mode="json"), "gan")
            result = _train(cfg, split, images_dir, use_mlflow=True)
            from fitting_room.gan.mlflow_model import log_generator_model

            log_generator_model(cfg.gan.model_dir)
            return TrainResult(**{**result.__dict__, "run_id": run.info.run_id})
    return _train(cfg, split, images_dir, use_mlflow=False)


def _train(cfg: Config, split: ImageSplit, images_dir: Path, use_mlflow: bool) -> TrainResult:
    import keras
    import tensorflow as tf

    from fitting_room.gan import callbacks as cb
    from fitting_room.gan.checkpoint import build_optimizers, restore_checkpoint, save_checkpoint
    from fitting_room.gan.data import make_dataset
    from fitting_room.gan.generate import generate, save_generator

    started = time.monotonic()
    t = cfg.gan.training
    digest = data_hash(images_dir)
    fp = fingerprint(cfg, split, digest)
    keras.utils.set_random_seed(cfg.seed)
    mixed = bool(tf.config.list_physical_devices("GPU"))
    if mixed:  # float16 only pays off on GPUs; loss scaling keeps small gradients alive
        keras.mixed_precision.set_global_policy("mixed_float16")
    with choose_strategy().scope():
        gan = build_gan(cfg, split, mixed)
        build_optimizers(gan)
    ckpt_meta = {"fingerprint": fp, "config": cfg.as_dict()}
    # DVC re-runs this stage when params change: a stale checkpoint must not block it
    restored = restore_checkpoint(gan, cfg.gan.checkpoint_dir, fp, strict=False)
    start = int(gan.step.numpy()) if restored else 0

    k = split.num_classes
    steps_per_epoch = t.steps_per_epoch or max(len(split.images) // t.batch_size, 1)
    grid_labels = np.repeat(np.arange(k), t.sample_grid_per_class)
    grid_seeds = np.arange(len(grid_labels))
    stop = cb.StopConditions(t.steps, t.budget_minutes * 60)
    late = None
    if t.aux_weight_late is not None and t.aux_late_budget_fraction is not None:
        late = cb.LateClassLoss(t.aux_late_budget_fraction * t.budget_minutes * 60)
    logger = cb.EpochLogger(
        t.batch_size,
        sample=lambda: (generate(gan.ema_generator, grid_labels, grid_seeds), grid_labels),
        monitor=_quick_monitor(cfg, images_dir, gan) if t.monitor_images_per_class else None,
        use_mlflow=use_mlflow,
    )
    if start < t.steps:
        dataset = make_dataset(split, t.batch_size, t.shuffle_buffer, seed=cfg.seed + start)
        callbacks = [
            stop,  # first: a non-finite step must be seen before the checkpointer runs
            cb.Checkpointer(
                lambda: save_checkpoint(gan, cfg.gan.checkpoint_dir, ckpt_meta), t.checkpoint_every
            ),
            logger,
            cb.ProgressBar(t.steps, start),
            *([late] if late is not None else []),
        ]
        gan.fit(
            dataset,
            epochs=math.ceil(t.steps / steps_per_epoch),
            initial_epoch=start // steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            verbose=0,
        )
        if stop.reason == "non_finite_loss":
            raise FittingRoomError(
                f"training stopped: non-finite loss at step {stop.bad_step}; the last good checkpoint "
                f"in {cfg.gan.checkpoint_dir} is kept (try a lower gan.training.d_lr / g_lr)"
            )
    step = int(gan.step.numpy())
    seconds = time.monotonic() - started
    save_checkpoint(gan, cfg.gan.checkpoint_dir, ckpt_meta)
    speeds = [h["images_per_second"] for h in logger.history]
    stopped_by = stop.reason if start < t.steps else "already_done"
    steady = float(np.median(speeds)) if speeds else float("nan")
    training = {
        "start_step": start,
        "seconds": round(seconds, 1),  # from setup (data hash, classifier) to the last step
        "images_per_second_steady": round(steady, 1) if math.isfinite(steady) else None,
        "stopped_by": stopped_by,
        "late_class_loss_from_step": _late_from(gan, t),
    }
    save_generator(gan.ema_generator, generator_meta(cfg, split, digest, step, training), cfg.gan.model_dir)
    return TrainResult(
        model_dir=Path(cfg.gan.model_dir),
        start_step=start,
        step=step,
        stopped_by=stopped_by,
        images_per_second=steady,
        history=logger.history,
    )


def _late_from(gan: Any, t: Any) -> int | None:
    """The step the late class-loss weight took over (None: no late phase, or not reached)."""
    if t.aux_weight_late is None:
        return None
    late_from = int(gan.late_from.numpy())
    return late_from if late_from <= int(gan.step.numpy()) else None


def _quick_monitor(cfg: Config, images_dir: Path, gan: Any) -> Any:
    """FID and class accuracy of the EMA generator on a few images per class (training-time signal)."""
    from fitting_room.evaluation.classifier import embed, load_or_train_classifier
    from fitting_room.evaluation.metrics import frechet_distance
    from fitting_room.gan.generate import generate

    classifier = load_or_train_classifier(images_dir, cfg.evaluation.classifier, cfg.seed)
    test = load_split(images_dir, "test")
    n = cfg.gan.training.monitor_images_per_class
    k = test.num_classes
    real = embed(classifier, test.images[: n * k * 2], test.labels[: n * k * 2])
    labels = np.repeat(np.arange(k), n)
    seeds = np.arange(len(labels)) + 10_000_000  # fixed: epoch-to-epoch changes are the model's

    def monitor() -> dict[str, float]:
        fake = embed(classifier, generate(gan.ema_generator, labels, seeds), labels)
        return {
            "quick_fid": frechet_distance(real.features, fake.features),
            "quick_class_accuracy": float((fake.predicted == fake.labels).mean()),
        }

    return monitor
