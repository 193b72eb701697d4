"""The conditional GAN as a Keras model: the whole algorithm is ``train_step``.

One step = one discriminator update on a real and a generated batch, one generator update,
then the exponential moving average (EMA) of the generator weights, which is the copy we
evaluate and serve (smoother and better than the raw generator at no training cost).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from fitting_room.gan.schedule import ClassLossSchedule


def discriminator_loss(kind: str, real_logits: Any, fake_logits: Any) -> Any:
    if kind == "hinge":
        return tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))
    # non-saturating logistic loss
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))


def generator_loss(kind: str, fake_logits: Any) -> Any:
    if kind == "hinge":
        return -tf.reduce_mean(fake_logits)
    return tf.reduce_mean(tf.nn.softplus(-fake_logits))


def class_loss(labels: Any, logits: Any) -> Any:
    """Auxiliary classification loss: real images teach D the classes, G must match them."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


class ConditionalGAN(keras.Model):
    """Generator, discriminator and EMA generator trained together by ``fit``."""

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        ema_generator: keras.Model,
        loss: str = "hinge",
        ema_decay: float = 0.999,
        class_loss: ClassLossSchedule | None = None,
        seed: int = 0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.ema_generator = ema_generator
        self.loss_kind = loss
        self.ema_decay = ema_decay
        self.class_loss = class_loss or ClassLossSchedule()
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.noise = keras.random.SeedGenerator(seed)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        # the step the class loss's late weight applies from (state of ``class_loss``, kept here
        # so that checkpoints carry it)
        first = self.class_loss.first_late_step
        self.late_from = tf.Variable(first, dtype=tf.int64, trainable=False, name="late_from")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer: Any, g_optimizer: Any, jit_compile: bool = False, **kwargs: Any) -> None:
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def metrics(self) -> list[Any]:
        return [self.d_loss_tracker, self.g_loss_tracker]

    def _maybe_symbolic_build(self, iterator: Any = None, data_batch: Any = None) -> None:
        # Under a distribution strategy, Keras's fit() first builds the model by calling it on
        # a training batch reduced across replicas. The nets here are built functional models,
        # call() takes noise and labels, not (image, label), and the cross-worker reduce of a
        # batch fails under MultiWorkerMirroredStrategy: nothing to build, so skip it.
        return None

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.ema_generator(inputs, training=training)

    def aux_weight_now(self) -> Any:
        """The class-loss weight at the current step."""
        return self.class_loss.weight(self.step, self.late_from)

    def noise_for_replica(self, batch: Any) -> Any:
        """This replica's rows of the global batch's noise.

        Every replica draws the whole global batch's noise from the shared seed state and
        keeps its own slice, matching the rows of the global data batch it was given: the
        step sees the same noise whatever the number of replicas (with one, the slice is all).
        """
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        z = keras.random.normal((batch * replicas, self.latent_dim), seed=self.noise)
        if replicas == 1:
            return z
        return z[ctx.replica_id_in_sync_group * batch : (ctx.replica_id_in_sync_group + 1) * batch]

    def train_step(self, data: Any) -> dict[str, Any]:
        real, labels = data
        aux = self.aux_weight_now()
        batch = tf.shape(real)[0]
        # the optimizers sum gradients over replicas: each replica's loss is its share of the mean
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        share = 1.0 / replicas
        # generated images use the real batch's labels: class balance comes from the data
        z = self.noise_for_replica(batch)
        with tf.GradientTape() as tape:
            fake = self.generator([z, labels], training=True)
            real_logits, real_class = self.discriminator([real, labels], training=True)
            fake_logits, _ = self.discriminator([fake, labels], training=True)
            d_loss = discriminator_loss(self.loss_kind, real_logits, fake_logits)
            d_total = d_loss + aux * class_loss(labels, real_class)
            scaled = self.d_optimizer.scale_loss(d_total if replicas == 1 else d_total * share)
        d_vars = self.discriminator.trainable_weights
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)

        z = self.noise_for_replica(batch)
        with tf.GradientTape() as tape:
            fake = self.generator([z, labels], training=True)
            fake_logits, fake_class = self.discriminator([fake, labels], training=True)
            g_loss = generator_loss(self.loss_kind, fake_logits)
            g_total = g_loss + aux * class_loss(labels, fake_class)
            scaled = self.g_optimizer.scale_loss(g_total if replicas == 1 else g_total * share)
        g_vars = self.generator.trainable_weights
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)

        update_ema(self.ema_generator, self.generator, self.ema_decay)
        self.step.assign_add(1)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        logs = {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras averages multi-worker logs along axis 0, which a scalar does not have
            logs = {key: tf.reshape(value, (1,)) for key, value in logs.items()}
        return logs


def update_ema(ema: keras.Model, source: keras.Model, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * source`` for weights; batch-norm statistics are copied."""
    for e, s in zip(ema.trainable_weights, source.trainable_weights, strict=True):
        e.assign(decay * e + (1.0 - decay) * s)
    for e, s in zip(ema.non_trainable_weights, source.non_trainable_weights, strict=True):
        e.assign(s)
