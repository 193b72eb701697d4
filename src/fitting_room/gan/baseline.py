"""The keras.io "Conditional GAN" example, rebuilt from its description, as a benchmark baseline.

Generator: noise concatenated with the one-hot label -> Dense 7x7x(latent+classes) -> two
Conv2DTranspose(128, 4, stride 2) -> Conv2D(1, 7x7, sigmoid). Discriminator: the image with
one-hot label maps as extra channels -> Conv2D 64 and 128 (3x3, stride 2, LeakyReLU) ->
global max pool -> Dense 1. Adam 3e-4 for both, BCE from logits, images in 0..1.
Only 28x28 inputs, as in the example.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf


def build_baseline(num_classes: int, channels: int = 1, latent_dim: int = 128) -> tuple[Any, Any]:
    from keras import layers

    g_in = latent_dim + num_classes
    generator = keras.Sequential(
        [
            keras.Input((g_in,)),
            layers.Dense(7 * 7 * g_in),
            layers.LeakyReLU(0.2),
            layers.Reshape((7, 7, g_in)),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(channels, 7, padding="same", activation="sigmoid"),
        ],
        name="baseline_generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input((28, 28, channels + num_classes)),
            layers.Conv2D(64, 3, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(128, 3, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ],
        name="baseline_discriminator",
    )
    return generator, discriminator


class BaselineConditionalGAN(keras.Model):
    """The example's training loop: D on generated (label 1) + real (label 0), then G fools D."""

    def __init__(self, num_classes: int, channels: int = 1, latent_dim: int = 128, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_classes, self.latent_dim = num_classes, latent_dim
        self.generator, self.discriminator = build_baseline(num_classes, channels, latent_dim)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, **kwargs: Any) -> None:
        super().compile(**kwargs)
        self.d_optimizer = keras.optimizers.Adam(3e-4)
        self.g_optimizer = keras.optimizers.Adam(3e-4)

    @property
    def metrics(self) -> list[Any]:
        return [self.d_loss_tracker, self.g_loss_tracker]

    def _label_maps(self, one_hot: Any, size: int) -> Any:
        return tf.tile(one_hot[:, None, None, :], [1, size, size, 1])

    def train_step(self, data: Any) -> dict[str, Any]:
        real, labels = data
        real = (real + 1.0) / 2.0  # the shared pipeline yields -1..1; the example works in 0..1
        batch = tf.shape(real)[0]
        one_hot = tf.one_hot(labels, self.num_classes)
        maps = self._label_maps(one_hot, real.shape[1])
        z = tf.random.normal((batch, self.latent_dim))
        fake = self.generator(tf.concat([z, one_hot], 1))
        combined = tf.concat([tf.concat([fake, maps], -1), tf.concat([real, maps], -1)], 0)
        targets = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, 1))], 0)
        with tf.GradientTape() as tape:
            d_loss = self.bce(targets, self.discriminator(combined))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

        z = tf.random.normal((batch, self.latent_dim))
        with tf.GradientTape() as tape:
            fake = self.generator(tf.concat([z, one_hot], 1))
            g_loss = self.bce(tf.zeros((batch, 1)), self.discriminator(tf.concat([fake, maps], -1)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply(grads, self.generator.trainable_weights)
        self.step.assign_add(1)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    def sample(self, labels: np.ndarray, seeds: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """uint8 images for ``labels``, one noise vector per seed (same seed -> same image)."""
        from fitting_room.gan.generate import noise_for_seeds

        z = noise_for_seeds(seeds, self.latent_dim)
        one_hot = np.eye(self.num_classes, dtype=np.float32)[labels]
        out = [
            np.asarray(
                self.generator(np.concatenate([z[i : i + batch_size], one_hot[i : i + batch_size]], 1))
            )
            for i in range(0, len(labels), batch_size)
        ]
        return np.clip(np.rint(np.concatenate(out) * 255), 0, 255).astype(np.uint8)
