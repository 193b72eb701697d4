"""The ``train_gan`` stage: ingested images in, the EMA generator (with its preprocessing) out.

Read top to bottom: load and check the data, pick the distribution strategy (one process, or
one worker of a cluster), build the nets inside it, resume from the chief's checkpoint if
there is one, ``fit`` until the step limit or the wall-clock budget, then save the EMA
generator and a final checkpoint, and log params, losses, samples and the training data (an
MLflow dataset input) to MLflow; the model itself is logged once, by ``evaluate_gan``, which
scores and registers it. In a cluster every worker runs
all of this in step; only the chief (worker 0) writes anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fitting_room.config import Config
from fitting_room.data.images import ImageSplit, check_shape, data_hash, load_split
from fitting_room.errors import FittingRoomError
from fitting_room.gan.cluster import Cluster, resolve_cluster


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    start_step: int  # step the run resumed from (0 for a fresh run)
    step: int  # step reached
    stopped_by: str  # "steps", "budget" or "already_done"
    images_per_second: float
    history: list[dict[str, float]] = field(default_factory=list)
    run_id: str | None = None
    worker: int | None = None  # this process's index in the cluster (None: trained alone)
    workers: int = 1  # processes that trained together
    state_digest: str = ""  # SHA-256 of the final training state: equal on every worker

    def summary(self) -> dict[str, Any]:
        """The result as JSON-ready values (what ``train-gan --result-json`` writes)."""
        return {**self.__dict__, "model_dir": str(self.model_dir)}


def choose_strategy(cluster: Cluster | None = None) -> Any:
    """A cluster -> multi-worker mirrored; else several GPUs -> mirrored; one GPU -> that device;
    otherwise the default (CPU) strategy."""
    import tensorflow as tf

    if cluster is not None:
        from fitting_room.gan.cluster import multi_worker_strategy

        return multi_worker_strategy(cluster)
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
    """Generator, discriminator, EMA copy and optimizers, compiled into one ConditionalGAN.

    Built inside a strategy of several replicas, the generator's batch norms are synchronised,
    so that their statistics, like the loss, cover the global batch.
    """
    import keras
    import tensorflow as tf

    from fitting_room.gan.model import ConditionalGAN
    from fitting_room.gan.networks import build_discriminator, build_generator
    from fitting_room.gan.schedule import ClassLossSchedule

    res, ch, k = split.images.shape[1], split.images.shape[3], split.num_classes
    t = cfg.gan.training
    synchronized = tf.distribute.get_strategy().num_replicas_in_sync > 1
    generator = build_generator(cfg.gan.generator, res, ch, k, synchronized=synchronized)
    ema = build_generator(cfg.gan.generator, res, ch, k)
    ema.set_weights(generator.get_weights())
    discriminator = build_discriminator(cfg.gan.discriminator, res, ch, k)

    def adam(lr: float) -> Any:
        opt = keras.optimizers.Adam(lr, beta_1=t.beta_1, beta_2=t.beta_2)
        return keras.optimizers.LossScaleOptimizer(opt) if mixed_precision else opt

    gan = ConditionalGAN(
        generator,
        discriminator,
        ema,
        t.loss,
        t.ema_decay,
        class_loss=ClassLossSchedule.from_config(t),
        seed=cfg.seed,
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

    With a cluster configured (``gan.cluster.workers`` or ``TF_CONFIG``) this process is one
    worker of a data-parallel run: call it on every worker; the chief alone writes the
    checkpoints, the generator and the MLflow run.

    Args:
        cfg: the resolved config (``gan``, ``data.images``, ``seed`` and, for the per-epoch
            quick metric, ``evaluation.classifier`` are read).
        images_dir: folder with ``train.npz``; defaults to ``data.images.out_dir``.
        use_mlflow: log params, per-epoch metrics, sample grids and the training data to MLflow.

    Returns:
        Where the generator went, the steps done, why training stopped, and the history.

    Raises:
        DataError: when the images are missing or do not match ``data.images`` in params.
        FittingRoomError: on a non-finite loss (the last good checkpoint is kept), on a bad
            ``TF_CONFIG``, or when a worker of the cluster is lost (naming it).
    """
    images_dir = Path(images_dir or cfg.data.images.out_dir)
    split = load_split(images_dir, "train")
    check_shape(split, cfg.data.images.resolution, cfg.data.images.channels, str(images_dir / "train.npz"))
    cluster = resolve_cluster(cfg.gan.cluster)
    if use_mlflow and (cluster is None or cluster.is_chief):
        from fitting_room.tracking.mlflow_runs import log_flat_params, stage_run
        from fitting_room.tracking.promotion import log_dataset_input

        with stage_run(cfg, "train_gan") as run:
            log_flat_params(cfg.gan.model_dump(mode="json"), "gan")
            log_dataset_input("images-train", images_dir / "train.npz", context="training")
            result = _train(cfg, split, images_dir, cluster, use_mlflow=True)
            # the model is logged once, by evaluate_gan, which scores and registers it
            return replace(result, run_id=run.info.run_id)
    return _train(cfg, split, images_dir, cluster, use_mlflow=False)


@dataclass
class _Run:
    """What the steps of one training run share."""

    cfg: Config
    split: ImageSplit
    images_dir: Path
    cluster: Cluster | None
    strategy: Any
    gan: Any = None
    digest: str = ""
    fingerprint: str = ""
    start: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def chief(self) -> bool:
        return self.cluster is None or self.cluster.is_chief

    @property
    def ckpt_meta(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "config": self.cfg.as_dict()}

    def save_checkpoint(self) -> None:
        from fitting_room.gan.checkpoint import save_checkpoint

        if self.chief:  # the others hold the same state; they write nothing
            save_checkpoint(self.gan, self.cfg.gan.checkpoint_dir, self.ckpt_meta)


def _train(
    cfg: Config, split: ImageSplit, images_dir: Path, cluster: Cluster | None, use_mlflow: bool
) -> TrainResult:
    # the strategy first: a multi-worker runtime must start before any other TensorFlow op
    run = _Run(cfg, split, images_dir, cluster, choose_strategy(cluster))
    run.digest = data_hash(images_dir)
    run.fingerprint = fingerprint(cfg, split, run.digest)
    run.gan = _build(run)
    run.start = _resume(run)
    stop, logger, callbacks = _callbacks(run, use_mlflow and run.chief)
    if run.start < cfg.gan.training.steps:
        _fit(run, callbacks, stop)
    return _finish(run, stop, logger)


def _build(run: _Run) -> Any:
    """Seed, precision policy, and the nets with their optimizer slots inside the strategy."""
    import keras
    import tensorflow as tf

    from fitting_room.gan.checkpoint import build_optimizers

    keras.utils.set_random_seed(run.cfg.seed)
    mixed = bool(tf.config.list_physical_devices("GPU"))
    if mixed:  # float16 only pays off on GPUs; loss scaling keeps small gradients alive
        keras.mixed_precision.set_global_policy("mixed_float16")
    with run.strategy.scope():
        gan = build_gan(run.cfg, run.split, mixed)
        build_optimizers(gan)
    return gan


def _resume(run: _Run) -> int:
    """Restore the chief's last checkpoint (if any) on every worker; the step to start from."""
    from fitting_room.gan.checkpoint import restore_checkpoint, state_variables

    restored = None
    if run.chief:  # DVC re-runs this stage when params change: a stale checkpoint must not block it
        restored = restore_checkpoint(run.gan, run.cfg.gan.checkpoint_dir, run.fingerprint, strict=False)
    if run.cluster is not None:
        from fitting_room.gan.cluster import broadcast_from_chief

        # the chief's state (restored or fresh) on every worker, whatever their disks hold
        broadcast_from_chief(run.strategy, [v for vs in state_variables(run.gan).values() for v in vs])
        return int(run.gan.step.numpy())
    return int(run.gan.step.numpy()) if restored else 0


def _callbacks(run: _Run, use_mlflow: bool) -> tuple[Any, Any, list[Any]]:
    """Clock, stop conditions, class-loss schedule, checkpoints, logs: the side effects of ``fit``."""
    from fitting_room.gan import callbacks as cb
    from fitting_room.gan.generate import generate

    t = run.cfg.gan.training
    k = run.split.num_classes
    agree = None
    if run.cluster is not None:
        from fitting_room.gan.cluster import chief_reading

        agree = chief_reading(run.strategy)
    clock = cb.Clock(agree)  # started before the monitor's classifier: the budget counts set-up
    stop = cb.StopConditions(t.steps, t.budget_minutes * 60, clock)
    late = run.gan.class_loss.time_switch(clock)
    grid_labels = np.repeat(np.arange(k), t.sample_grid_per_class)
    grid_seeds = np.arange(len(grid_labels))
    ema = _local_ema(run) if run.chief else None  # the others never sample, score or save
    monitored = t.monitor_images_per_class and run.chief  # the chief alone scores and logs

    def sample() -> tuple[np.ndarray, np.ndarray]:
        assert ema is not None, "only the chief samples"
        return generate(ema(), grid_labels, grid_seeds), grid_labels

    logger = cb.EpochLogger(
        t.batch_size,
        sample=sample,
        monitor=_quick_monitor(run.cfg, run.images_dir, ema) if monitored else None,
        use_mlflow=use_mlflow,
    )
    callbacks = [
        clock,  # first: every later decision reads the clock of this batch
        stop,  # before the checkpointer: a non-finite step must be seen before it runs
        cb.Checkpointer(run.save_checkpoint, t.checkpoint_every),
        logger,
        *([cb.ProgressBar(t.steps, t.budget_minutes * 60, run.start)] if run.chief else []),
        *([late] if late is not None else []),
    ]
    return stop, logger, callbacks


def _local_ema(run: _Run) -> Any:
    """The EMA generator to sample, score and save: the trained one when alone; in a cluster a
    copy outside the strategy (a distributed model's predict would wait for the other workers)."""
    if run.cluster is None:
        return lambda: run.gan.ema_generator
    from fitting_room.gan.networks import build_generator

    res, ch, k = run.split.images.shape[1], run.split.images.shape[3], run.split.num_classes
    copy = build_generator(run.cfg.gan.generator, res, ch, k)

    def current() -> Any:
        copy.set_weights(run.gan.ema_generator.get_weights())
        return copy

    return current


def _fit(run: _Run, callbacks: list[Any], stop: Any) -> None:
    """``fit`` from the resumed step to the step limit (or the budget, or a non-finite loss)."""
    import tensorflow as tf

    from fitting_room.gan.data import make_dataset

    t = run.cfg.gan.training
    steps_per_epoch = t.steps_per_epoch or max(len(run.split.images) // t.batch_size, 1)
    dataset = make_dataset(run.split, t.batch_size, t.shuffle_buffer, seed=run.cfg.seed + run.start)
    if run.cluster is not None:
        # every worker reads the same shuffled global batches and keeps its rows of each
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        dataset = dataset.with_options(options)
    try:
        run.gan.fit(
            dataset,
            epochs=math.ceil(t.steps / steps_per_epoch),
            initial_epoch=run.start // steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself; Keras warns that it would ignore True
            verbose=0,
        )
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError) as err:
        if run.cluster is None:
            raise
        from fitting_room.gan.cluster import peer_failure

        raise peer_failure(run.cluster, err) from err
    if stop.reason == "non_finite_loss":
        raise FittingRoomError(
            f"training stopped: non-finite loss at step {stop.bad_step}; the last good checkpoint "
            f"in {run.cfg.gan.checkpoint_dir} is kept (try a lower gan.training.d_lr / g_lr)"
        )


def _finish(run: _Run, stop: Any, logger: Any) -> TrainResult:
    """Final checkpoint and generator (the chief's), and what the run did."""
    from fitting_room.gan.checkpoint import state_digest
    from fitting_room.gan.generate import save_generator

    t = run.cfg.gan.training
    step = int(run.gan.step.numpy())
    seconds = time.monotonic() - run.started
    run.save_checkpoint()
    speeds = [h["images_per_second"] for h in logger.history]
    stopped_by = stop.reason if run.start < t.steps else "already_done"
    steady = float(np.median(speeds)) if speeds else float("nan")
    training = {
        "start_step": run.start,
        "seconds": round(seconds, 1),  # from setup (data hash, classifier) to the last step
        "images_per_second_steady": round(steady, 1) if math.isfinite(steady) else None,
        "stopped_by": stopped_by,
        "late_class_loss_from_step": run.gan.class_loss.began_at(run.gan),
        "workers": 1 if run.cluster is None else run.cluster.size,
    }
    if run.chief:
        meta = generator_meta(run.cfg, run.split, run.digest, step, training)
        save_generator(_local_ema(run)(), meta, run.cfg.gan.model_dir)
    return TrainResult(
        model_dir=Path(run.cfg.gan.model_dir),
        start_step=run.start,
        step=step,
        stopped_by=stopped_by,
        images_per_second=steady,
        history=logger.history,
        worker=None if run.cluster is None else run.cluster.task_index,
        workers=training["workers"],
        state_digest=state_digest(run.gan),
    )


def _quick_monitor(cfg: Config, images_dir: Path, ema: Any) -> Any:
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
        fake = embed(classifier, generate(ema(), labels, seeds), labels)
        return {
            "quick_fid": frechet_distance(real.features, fake.features),
            "quick_class_accuracy": float((fake.predicted == fake.labels).mean()),
        }

    return monitor
