"""Generator and projection discriminator for class-conditional image synthesis.

Generator: noise -> dense seed at ``base x base`` -> (upsample, 3x3 conv, class-conditional
batch norm, ReLU) per doubling -> 3x3 conv -> tanh. The class enters through the
per-class scale and shift of every batch norm (as in BigGAN / SN-GAN), which conditions
every layer, and through a learned class code concatenated to the noise.

Discriminator: strided convolutions with spectral normalisation, global pooling to a
feature vector ``h``, and the projection head ``w·h + <embed(y), h>`` (Miyato & Koyama 2018),
plus auxiliary class logits from ``h`` (AC-GAN, Odena et al. 2017; weight in params).

Both are plain functional models (no custom layers), so ``.keras`` files load anywhere.
"""

from __future__ import annotations

from typing import Any

from fitting_room.config.gan import DiscriminatorArch, GeneratorArch


def upsampling_plan(resolution: int, min_base: int) -> tuple[int, int]:
    """``(base, doublings)``: the smallest start side >= ``min_base`` that doubles to ``resolution``.

    28 -> (7, 2); 64 -> (4, 4); 32 -> (4, 3).
    """
    base, doublings = resolution, 0
    while base % 2 == 0 and base // 2 >= min_base:
        base //= 2
        doublings += 1
    if doublings == 0:
        raise ValueError(
            f"resolution {resolution} cannot be reached by doubling from a side >= {min_base} "
            "(gan.generator.min_base)"
        )
    return base, doublings


def _conditional_norm(x: Any, y: Any, num_classes: int, name: str, synchronized: bool = False) -> Any:
    from keras import layers

    channels = x.shape[-1]
    x = layers.BatchNormalization(center=False, scale=False, synchronized=synchronized, name=f"{name}_bn")(x)
    gamma = layers.Embedding(num_classes, channels, embeddings_initializer="ones", name=f"{name}_gamma")(y)
    beta = layers.Embedding(num_classes, channels, embeddings_initializer="zeros", name=f"{name}_beta")(y)
    gamma = layers.Reshape((1, 1, channels))(gamma)
    beta = layers.Reshape((1, 1, channels))(beta)
    return layers.Add()([layers.Multiply()([x, gamma]), beta])


def build_generator(
    arch: GeneratorArch, resolution: int, channels: int, num_classes: int, synchronized: bool = False
) -> Any:
    """Keras model ``[z (B, latent), y (B,) int] -> images (B, R, R, C)`` in -1..1.

    Args:
        synchronized: batch-norm statistics over the global batch when training on several
            replicas (one all-reduce per norm), so a step means the same for any replica count.
    """
    import keras
    from keras import layers

    base, doublings = upsampling_plan(resolution, arch.min_base)
    z = keras.Input((arch.latent_dim,), name="z")
    y = keras.Input((), dtype="int32", name="label")
    width = arch.width
    # the class also enters at the input: conditional norms alone pick up the class slowly
    label_code = layers.Embedding(num_classes, arch.latent_dim, name="label_code")(y)
    h = layers.Concatenate()([z, label_code])
    h = layers.Dense(base * base * width, use_bias=False, name="seed")(h)
    h = layers.Reshape((base, base, width))(h)
    h = layers.ReLU()(_conditional_norm(h, y, num_classes, "cbn0", synchronized))
    for i in range(1, doublings + 1):
        width = max(arch.width // 2**i, 16)
        h = layers.UpSampling2D(2, interpolation="nearest")(h)
        h = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(h)
        h = layers.ReLU()(_conditional_norm(h, y, num_classes, f"cbn{i}", synchronized))
    h = layers.Conv2D(channels, 3, padding="same", name="to_image")(h)
    # float32 output keeps tanh and the image values exact under mixed precision
    out = layers.Activation("tanh", dtype="float32", name="image")(h)
    return keras.Model([z, y], out, name="generator")


def build_discriminator(arch: DiscriminatorArch, resolution: int, channels: int, num_classes: int) -> Any:
    """Keras model ``[images (B, R, R, C), y (B,) int] -> [score (B, 1), class logits (B, K)]``."""
    import keras
    from keras import layers

    def sn(layer: Any) -> Any:
        return layers.SpectralNormalization(layer) if arch.spectral_norm else layer

    _, doublings = upsampling_plan(resolution, 4)
    x = keras.Input((resolution, resolution, channels), name="image")
    y = keras.Input((), dtype="int32", name="label")
    h = x
    width = arch.width
    for i in range(doublings):
        width = arch.width * 2**i
        h = sn(layers.Conv2D(width, 4, strides=2, padding="same", name=f"down{i}"))(h)
        h = layers.LeakyReLU(0.1)(h)
        h = sn(layers.Conv2D(width, 3, padding="same", name=f"conv{i}"))(h)
        h = layers.LeakyReLU(0.1)(h)
    # global SUM pooling (SN-GAN): with spectrally normalised layers an average would shrink
    # the logits by H*W and leave D stuck near 0 (hinge loss ~2, no signal for G)
    side = resolution // 2**doublings
    h = layers.Rescaling(float(side * side))(layers.GlobalAveragePooling2D()(h))
    unconditional = sn(layers.Dense(1, name="logit"))(h)
    embedded = layers.Embedding(num_classes, width, name="projection")(y)
    projection = layers.Dot(axes=1)([embedded, h])
    score = layers.Add(dtype="float32", name="score")([unconditional, projection])
    # auxiliary class logits (AC-GAN): a direct, fast class signal for both nets
    class_logits = layers.Dense(num_classes, dtype="float32", name="class_logits")(h)
    return keras.Model([x, y], [score, class_logits], name="discriminator")
