"""Every generative model: output shapes, a gradient reaching every trainable variable, and a
``.keras`` round trip with ``safe_mode=True``; the image-size checks."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.models.generative.dcgan import dcgan_discriminator, dcgan_generator
from yeehaw_tf.models.generative.unet import ddpm_unet
from yeehaw_tf.models.generative.vae import vae_decoder, vae_encoder

RNG = np.random.default_rng(0)
IMAGES_8 = RNG.uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32)
IMAGES_32 = RNG.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)

CASES = {
    "generator_8": (
        lambda: dcgan_generator(8, (8, 8, 1), 8),
        RNG.normal(size=(2, 8)),
        (2, 8, 8, 1),
    ),
    "generator_32": (
        lambda: dcgan_generator(8, (32, 32, 3), 8),
        RNG.normal(size=(2, 8)),
        (2, 32, 32, 3),
    ),
    "discriminator": (lambda: dcgan_discriminator((8, 8, 1), 8), IMAGES_8, (2, 1)),
    "discriminator_sn": (
        lambda: dcgan_discriminator((32, 32, 3), 8, spectral_norm=True),
        IMAGES_32,
        (2, 1),
    ),
    "vae_decoder": (lambda: vae_decoder((8, 8, 1), 4, 8), RNG.normal(size=(2, 4)), (2, 8, 8, 1)),
    "ddpm_unet": (
        lambda: ddpm_unet((8, 8, 1), (8, 16), 8),
        {"noisy_images": IMAGES_8, "timesteps": np.array([0, 999], np.int32)},
        (2, 8, 8, 1),
    ),
}


def test_every_registered_part_is_covered():
    from yeehaw_tf.models.registry import GENERATIVE, get_generative

    covered = {
        "dcgan": {"generator", "discriminator"},
        "conv_vae": {"encoder", "decoder"},
        "ddpm_unet": {"eps_model"},
    }
    assert {name: set(parts) for name, parts in GENERATIVE.items()} == covered
    with pytest.raises(ValueError, match="unknown generative model 'biggan'"):
        get_generative("biggan")


def _first(outputs):
    return outputs if not isinstance(outputs, dict) else tf.add_n(list(outputs.values()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_model(name, tmp_path):
    build, x, shape = CASES[name]
    x = (
        {k: tf.constant(v) for k, v in x.items()}
        if isinstance(x, dict)
        else tf.constant(x, tf.float32)
    )
    model = build()
    with tf.GradientTape() as tape:
        y = model(x, training=True)
        loss = tf.reduce_sum(tf.square(y)) + tf.reduce_sum(y)
    assert tuple(y.shape) == shape and np.all(np.isfinite(y))
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads, strict=True) if g is None]
    assert not missing
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-5)


def test_vae_encoder_outputs_a_gaussian_per_image():
    out = vae_encoder((8, 8, 1), 4, 8)(IMAGES_8)
    assert out["mean"].shape == (2, 4) and out["log_variance"].shape == (2, 4)
    np.testing.assert_array_equal(out["log_variance"], 0.0)  # starts at unit variance


def test_the_untrained_unet_predicts_zero_noise():
    out = ddpm_unet((8, 8, 1), (8, 16), 8)(
        {"noisy_images": IMAGES_8, "timesteps": np.array([1, 2], np.int32)}
    )
    np.testing.assert_array_equal(out, 0.0)


def test_bad_image_shapes_are_refused():
    with pytest.raises(ValueError, match="power-of-two side"):
        dcgan_generator(8, (12, 12, 1))
    with pytest.raises(ValueError, match="divisible by 4"):
        ddpm_unet((6, 6, 1), (8, 8, 8))
    with pytest.raises(ValueError, match="latent_dim"):
        dcgan_generator(0)
