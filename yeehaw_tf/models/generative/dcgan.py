"""DCGAN-style generator and discriminator (Radford et al. 2016), sized by the image.

The generator maps a latent ``z`` through a dense layer to a ``start x start`` map of
``widths[0]`` channels, then doubles the resolution with stride-2 transposed convolutions
(batch norm and ReLU between) to the image, ending in ``tanh`` (pixels in ``[-1, 1]``). The
discriminator mirrors it with stride-2 convolutions and LeakyReLU(0.2), then one dense score.
It has no batch norm, so the same critic serves every loss: WGAN-GP's penalty is per example
and batch norm would couple the examples (Gulrajani et al., section 4); ``spectral_norm`` wraps
each of its convolutions and the dense layer in :class:`~yeehaw_tf.layers.SpectralNormalization`.

For ``digits`` (8x8) the maps are 2 -> 4 -> 8; for 32x32 images 4 -> 8 -> 16 -> 32.
"""

from __future__ import annotations

import math

import keras

from yeehaw_tf.layers.spectral_normalization import SpectralNormalization

KERNEL = 4
INIT_STDDEV = 0.02  # the DCGAN paper's N(0, 0.02) initialisation


def start_size(image_shape) -> int:
    """The generator's first map size: 4 for images of 16 pixels or more, else 2."""
    height, width = image_shape[:2]
    if height != width or height < 4 or height & (height - 1):
        raise ValueError(
            f"image_shape must be square with a power-of-two side >= 4, got {tuple(image_shape)}"
        )
    return 4 if height >= 16 else 2


def _levels(image_shape) -> int:
    return int(math.log2(image_shape[0] // start_size(image_shape)))


def _widths(image_shape, width: int) -> list[int]:
    """Channels per level, widest at the smallest map: ``[w * 2^(n-1), ..., w]``."""
    return [width * 2 ** (n - 1) for n in range(_levels(image_shape), 0, -1)]


def dcgan_generator(
    latent_dim: int = 64,
    image_shape=(8, 8, 1),
    width: int = 32,
    output_activation: str | None = "tanh",
    seed: int = 0,
    name: str = "generator",
) -> keras.Model:
    """``z [batch, latent_dim] -> images [batch, H, W, C]`` (``tanh``: in ``[-1, 1]``; ``None``:
    logits, e.g. a VAE decoder's Bernoulli logits)."""
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    image_shape = tuple(int(d) for d in image_shape)
    start = start_size(image_shape)
    widths = _widths(image_shape, width)
    init = keras.initializers.RandomNormal(stddev=INIT_STDDEV, seed=seed)
    z = keras.Input((latent_dim,), name="latents")
    x = keras.layers.Dense(start * start * widths[0], use_bias=False, kernel_initializer=init)(z)
    x = keras.layers.Reshape((start, start, widths[0]))(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    for channels in widths[1:]:
        x = keras.layers.Conv2DTranspose(
            channels, KERNEL, 2, "same", use_bias=False, kernel_initializer=init
        )(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2DTranspose(
        image_shape[-1], KERNEL, 2, "same", kernel_initializer=init, name="to_image"
    )(x)
    if output_activation is not None:
        x = keras.layers.Activation(output_activation, name="pixels")(x)
    return keras.Model(z, x, name=name)


def dcgan_discriminator(
    image_shape=(8, 8, 1),
    width: int = 32,
    spectral_norm: bool = False,
    seed: int = 1,
    name: str = "discriminator",
) -> keras.Model:
    """``images [batch, H, W, C] in [-1, 1] -> scores [batch, 1]`` (logits or critic values)."""
    image_shape = tuple(int(d) for d in image_shape)
    widths = list(reversed(_widths(image_shape, width)))
    init = keras.initializers.RandomNormal(stddev=INIT_STDDEV, seed=seed)

    def wrap(layer):
        return SpectralNormalization(layer) if spectral_norm else layer

    images = keras.Input(image_shape, name="images")
    x = images
    for channels in widths:
        x = wrap(keras.layers.Conv2D(channels, KERNEL, 2, "same", kernel_initializer=init))(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    scores = wrap(keras.layers.Dense(1, kernel_initializer=init, name="score"))(x)
    return keras.Model(images, scores, name=name)
