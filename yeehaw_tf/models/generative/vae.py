"""A small convolutional VAE (Kingma & Welling 2014): an encoder to the mean and log-variance of
``q(z | x)`` and a decoder from ``z`` to per-pixel Bernoulli logits.

The encoder is the DCGAN discriminator's trunk (stride-2 convolutions, LeakyReLU) ending in a
dense layer of ``2 * latent_dim`` (mean, log-variance); the decoder is the DCGAN generator with
no output activation. The reparameterization ``z = mu + sigma * eps`` and the ELBO live in
:mod:`yeehaw_tf.losses.vae`.
"""

from __future__ import annotations

import keras

from yeehaw_tf.models.generative.dcgan import INIT_STDDEV, KERNEL, _widths, dcgan_generator


def vae_encoder(
    image_shape=(8, 8, 1), latent_dim: int = 16, width: int = 32, seed: int = 2
) -> keras.Model:
    """``images [batch, H, W, C] in [-1, 1] -> {"mean", "log_variance"} [batch, latent_dim]``."""
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    image_shape = tuple(int(d) for d in image_shape)
    init = keras.initializers.RandomNormal(stddev=INIT_STDDEV, seed=seed)
    images = keras.Input(image_shape, name="images")
    x = images
    for channels in reversed(_widths(image_shape, width)):
        x = keras.layers.Conv2D(channels, KERNEL, 2, "same", kernel_initializer=init)(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    mean = keras.layers.Dense(latent_dim, name="mean")(x)
    log_variance = keras.layers.Dense(latent_dim, kernel_initializer="zeros", name="log_variance")(
        x
    )
    return keras.Model(images, {"mean": mean, "log_variance": log_variance}, name="encoder")


def vae_decoder(
    image_shape=(8, 8, 1), latent_dim: int = 16, width: int = 32, seed: int = 3
) -> keras.Model:
    """``z [batch, latent_dim] -> logits [batch, H, W, C]`` of each pixel being "on"."""
    return dcgan_generator(latent_dim, image_shape, width, None, seed=seed, name="decoder")
