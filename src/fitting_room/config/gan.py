"""Config sections for the garment GAN (``gan:``) and its evaluation stage (``evaluation:``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from fitting_room.config.base import Section
from fitting_room.config.gate import GateConfig


class GeneratorArch(Section):
    latent_dim: int = Field(64, ge=1, le=1024)  # size of the noise vector z
    width: int = Field(64, ge=4, le=2048)  # channels at the lowest resolution; halves per upsampling
    min_base: int = Field(4, ge=2, le=16)  # smallest starting side length (28 -> 7, 64 -> 4)


class DiscriminatorArch(Section):
    width: int = Field(32, ge=4, le=2048)  # channels of the first block; doubles per downsampling
    spectral_norm: bool = True  # spectral normalisation of every D weight (Miyato et al. 2018)


class TrainingConfig(Section):
    batch_size: int = Field(64, ge=2)  # images per step (global, across replicas)
    steps: int = Field(20000, ge=0)  # total optimisation steps (0 = save the untrained generator)
    budget_minutes: float = Field(25.0, gt=0)  # wall-clock limit; stops cleanly with a checkpoint
    steps_per_epoch: int | None = Field(None, ge=1)  # logging period; None = one pass over the data
    g_lr: float = Field(5e-4, gt=0)  # generator Adam learning rate
    d_lr: float = Field(5e-4, gt=0)  # discriminator Adam learning rate
    beta_1: float = Field(0.0, ge=0, lt=1)  # Adam beta_1 for both nets
    beta_2: float = Field(0.9, ge=0, lt=1)  # Adam beta_2 for both nets
    loss: Literal["hinge", "non_saturating"] = "hinge"
    aux_weight: float = Field(0.5, ge=0)  # weight of the auxiliary class loss (0 = projection only)
    # from step aux_late_step on the class loss weighs aux_weight_late instead (None = aux_weight
    # throughout): a strong AC-GAN loss makes class conditioning appear fast but narrows each class
    aux_weight_late: float | None = Field(None, ge=0)
    aux_late_step: int = Field(0, ge=0)
    # ... or once this share of budget_minutes has passed, whichever comes first (None = the
    # step alone): a slower machine then still reaches the late phase within its budget
    aux_late_budget_fraction: float | None = Field(None, gt=0, le=1)
    ema_decay: float = Field(0.999, ge=0, lt=1)  # EMA of generator weights (0 = copy, no averaging)
    checkpoint_every: int = Field(500, ge=1)  # steps between resume checkpoints
    jit_compile: bool = False  # XLA-compile the train step (slower on small CPUs; try on GPUs)
    shuffle_buffer: int = Field(10000, ge=1)  # tf.data shuffle buffer (images)
    sample_grid_per_class: int = Field(8, ge=1, le=32)  # images per class in the epoch sample grid
    monitor_images_per_class: int = Field(0, ge=0)  # per-epoch quick FID; 0 = off (needs a classifier)


class ClusterConfig(Section):
    """Data-parallel training across worker processes (``tf.distribute.MultiWorkerMirroredStrategy``).

    Empty ``workers`` and no ``TF_CONFIG`` in the environment: one process, as always.
    """

    # host:port of every worker's collective-ops server; index 0 is the chief (writes checkpoints,
    # the model and MLflow records). Empty = take the cluster from $TF_CONFIG, or train in one process
    workers: list[str] = Field(default_factory=list)
    task_index: int = Field(0, ge=0)  # this process's place in workers (set per process with --set)
    # seconds a worker waits for a silent peer before the run fails naming it (heartbeat timeout)
    peer_timeout_s: float = Field(60.0, gt=0, le=3600)

    @field_validator("workers")
    @classmethod
    def _host_port(cls, workers: list[str]) -> list[str]:
        for address in workers:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is not host:port")
        if len(set(workers)) != len(workers):
            raise ValueError(f"a worker address appears twice in {workers}")
        return workers

    @model_validator(mode="after")
    def _task_in_cluster(self) -> ClusterConfig:
        if self.workers and self.task_index >= len(self.workers):
            raise ValueError(f"task_index {self.task_index} but only {len(self.workers)} workers")
        return self


class GanConfig(Section):
    generator: GeneratorArch = GeneratorArch()
    discriminator: DiscriminatorArch = DiscriminatorArch()
    training: TrainingConfig = TrainingConfig()
    cluster: ClusterConfig = ClusterConfig()
    model_dir: Path = Path("models/gan")  # final EMA generator + preprocessing + resolved config
    checkpoint_dir: Path = Path("models/gan_checkpoints")  # resume checkpoints (DVC persist)


# The metrics ``evaluation.metrics`` may name and the keys each one returns (``diversity`` also
# returns one ``diversity_class_<c>`` per class). Declared here, not read from the registry, so
# that config imports nothing that computes; the registry (evaluation/metric_registry.py) binds
# a function to each name and refuses names missing here.
METRIC_OUTPUTS: dict[str, tuple[str, ...]] = {
    "fid": ("fid",),
    "kid": ("kid", "kid_std"),
    "class_accuracy": ("class_accuracy", "classifier_real_accuracy", "class_accuracy_ratio"),
    "precision_recall": ("precision", "recall"),
    "diversity": ("diversity_min_ratio", "diversity_mean_ratio"),
    "real_floor": ("real_floor_fid", "real_floor_kid", "real_floor_precision", "real_floor_recall"),
    "noisy_real": ("noisy_real_fid", "noisy_real_kid", "noisy_real_precision", "noisy_real_recall"),
}


class ClassifierConfig(Section):
    epochs: int = Field(3, ge=1)  # passes over the train split
    batch_size: int = Field(128, ge=1)
    width: int = Field(32, ge=4)  # channels of the first conv block
    feature_dim: int = Field(128, ge=8)  # size of the penultimate layer used as feature space
    max_train: int | None = Field(None, ge=100)  # train on at most N images; None = all
    cache_dir: Path = Path("models/classifier")  # <data hash>/classifier.keras (DVC persist)


class EvaluationConfig(Section):
    metrics: list[str] = Field(  # registry names (METRIC_OUTPUTS above)
        default_factory=lambda: [
            "fid",
            "kid",
            "class_accuracy",
            "precision_recall",
            "diversity",
            "real_floor",
        ]
    )
    images_per_class: int = Field(1000, ge=2)  # generated images per class scored
    real_images: int = Field(10000, ge=10)  # real test (and train, for the floor) images scored
    knn_k: int = Field(3, ge=1)  # neighbours defining the precision/recall manifolds
    kid_subsets: int = Field(10, ge=1)  # KID is averaged over this many random subsets
    kid_subset_size: int = Field(1000, ge=2)
    noise_sigma: float = Field(0.05, ge=0, le=1)  # pixel noise of the noisy-real reference (0-1 scale)
    seed: int = Field(1234, ge=0)  # seeds of the generated images and subsets
    classifier: ClassifierConfig = ClassifierConfig()
    reports_dir: Path = Path("reports/gan")  # metrics.json and plots/
    gate: GateConfig = GateConfig(
        minimum={"class_accuracy": 0.85, "precision": 0.7, "diversity_min_ratio": 0.6},
        maximum={"fid": 40.0},
        compare={"fid": "lower", "class_accuracy": "higher"},
        tolerance=0.1,
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in METRIC_OUTPUTS]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(METRIC_OUTPUTS)}")
        if not names:
            raise ValueError("name at least one metric")
        return names

    @model_validator(mode="after")
    def _gate_metrics_are_computed(self) -> EvaluationConfig:
        produced = {key for name in self.metrics for key in METRIC_OUTPUTS[name]}
        missing = sorted(self.gate.metric_names - produced)
        if missing:
            raise ValueError(f"gate uses metric(s) {missing} that no metric in evaluation.metrics produces")
        return self
