"""The conditional GAN as a Keras model: the whole algorithm is ``train_step``.

One step = one discriminator update on a real and a generated batch, one generator update,
then the exponential moving average (EMA) of the generator weights, which is the copy we
evaluate and serve (smoother and better than the raw generator at no training cost).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


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
        aux_weight: float = 0.0,
        seed: int = 0,
        aux_late: tuple[int, float] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.ema_generator = ema_generator
        self.loss_kind = loss
        self.ema_decay = ema_decay
        self.aux_weight = aux_weight
        self.aux_late = aux_late  # (from step, weight): the class-loss weight late in training
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.noise = keras.random.SeedGenerator(seed)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        # the step from which aux_late's weight applies; a time-based schedule may move it earlier
        late_from = aux_late[0] if aux_late is not None else 2**62
        self.late_from = tf.Variable(late_from, dtype=tf.int64, trainable=False, name="late_from")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer: Any, g_optimizer: Any, jit_compile: bool = False, **kwargs: Any) -> None:
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def metrics(self) -> list[Any]:
        return [self.d_loss_tracker, self.g_loss_tracker]

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.ema_generator(inputs, training=training)

    def aux_weight_now(self) -> Any:
        """The class-loss weight at the current step (``aux_weight``, then ``aux_late``'s)."""
        if self.aux_late is None:
            return tf.constant(self.aux_weight, tf.float32)
        late_weight = self.aux_late[1]
        return tf.where(self.step >= self.late_from, tf.constant(late_weight), tf.constant(self.aux_weight))

    def train_step(self, data: Any) -> dict[str, Any]:
        real, labels = data
        aux = self.aux_weight_now()
        batch = tf.shape(real)[0]
        # generated images use the real batch's labels: class balance comes from the data
        z = keras.random.normal((batch, self.latent_dim), seed=self.noise)
        with tf.GradientTape() as tape:
            fake = self.generator([z, labels], training=True)
            real_logits, real_class = self.discriminator([real, labels], training=True)
            fake_logits, _ = self.discriminator([fake, labels], training=True)
            d_loss = discriminator_loss(self.loss_kind, real_logits, fake_logits)
            d_total = d_loss + aux * class_loss(labels, real_class)
            scaled = self.d_optimizer.scale_loss(d_total)
        d_vars = self.discriminator.trainable_weights
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)

        z = keras.random.normal((batch, self.latent_dim), seed=self.noise)
        with tf.GradientTape() as tape:
            fake = self.generator([z, labels], training=True)
            fake_logits, fake_class = self.discriminator([fake, labels], training=True)
            g_loss = generator_loss(self.loss_kind, fake_logits)
            g_total = g_loss + aux * class_loss(labels, fake_class)
            scaled = self.g_optimizer.scale_loss(g_total)
        g_vars = self.generator.trainable_weights
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)

        update_ema(self.ema_generator, self.generator, self.ema_decay)
        self.step.assign_add(1)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def update_ema(ema: keras.Model, source: keras.Model, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * source`` for weights; batch-norm statistics are copied."""
    for e, s in zip(ema.trainable_weights, source.trainable_weights, strict=True):
        e.assign(decay * e + (1.0 - decay) * s)
    for e, s in zip(ema.non_trainable_weights, source.non_trainable_weights, strict=True):
        e.assign(s)
