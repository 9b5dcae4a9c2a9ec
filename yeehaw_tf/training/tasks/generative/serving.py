"""Serving specs of the generative models.

Generators (a GAN's, a VAE's decoder): ``serving_default`` takes ``latents`` float32
``[batch, z]`` and returns ``images`` uint8 ``[batch, H, W, C]`` (SavedModel and builtin-only
TFLite); a ``generate`` signature takes ``num_images`` (int32) and ``seed`` (int64) and draws
the latents itself, statelessly, so the same seed gives the same images everywhere.

Diffusion: ``serving_default`` is the noise-prediction network, ``(noisy_images float32,
timesteps int32) -> eps`` (one denoising step's network; TFLite too), and the SavedModel's
``sample(num_images, seed, steps, eta)`` signature holds the whole sampling loop.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.export.spec import OutputCheck, ServingSpec, Signature
from yeehaw_tf.ops import diffusion
from yeehaw_tf.training.tasks.generative.common import seeded_normal

NUM_EXAMPLES = 256
# uint8 images: a pixel whose value sits at a rounding boundary may move by one level.
IMAGE_LEVELS = {"saved_model": 0.0, "float32": 1.0, "float16": 8.0}
EPS_LIMITS = {"saved_model": 1e-5, "float32": 1e-4, "float16": 5e-2}


def generator_spec(
    generator: keras.Model, latent_dim: int, to_images: Callable, metadata: dict | None = None
) -> ServingSpec:
    """``latents -> images`` (``to_images`` maps the generator's outputs to uint8)."""

    def serve(latents):
        return {"images": to_images(generator(latents, training=False))}

    def generate(num_images, seed):
        return serve(seeded_normal(tf.stack([num_images, latent_dim]), seed))

    rng = np.random.default_rng(0)
    latents = rng.standard_normal((NUM_EXAMPLES, latent_dim)).astype(np.float32)
    return ServingSpec(
        model=generator,
        inputs={"latents": tf.TensorSpec([None, latent_dim], tf.float32, name="latents")},
        serve=serve,
        examples={"latents": latents},
        representative={"latents": latents},
        checks={"images": OutputCheck(IMAGE_LEVELS)},
        primary="images",
        metadata={"latent_dim": latent_dim, **(metadata or {})},
        signatures={
            "generate": Signature(
                inputs={
                    "num_images": tf.TensorSpec([], tf.int32, name="num_images"),
                    "seed": tf.TensorSpec([], tf.int64, name="seed"),
                },
                serve=generate,
                examples=(
                    {"num_images": np.int32(16), "seed": np.int64(0)},
                    {"num_images": np.int32(3), "seed": np.int64(42)},
                ),
            )
        },
    )


def eps_function(eps_model: keras.Model):
    """``eps(noisy_images, timesteps) -> float32 eps``: the network with its named inputs."""

    def eps(noisy_images, timesteps):
        out = eps_model({"noisy_images": noisy_images, "timesteps": timesteps}, training=False)
        return tf.cast(out, tf.float32)

    return eps


def sample_images(eps_model, schedule: diffusion.DiffusionSchedule, image_shape, to_images):
    """``images(num_images, seed, steps, eta)``: the whole sampler, uint8 (the task's sampler
    and the SavedModel's ``sample`` signature are this one function)."""
    eps = eps_function(eps_model)

    def images(num_images, seed, steps, eta):
        shape = tf.stack([num_images, *image_shape])
        return to_images(diffusion.sample(eps, schedule, shape, seed, steps, eta))

    return images


def diffusion_spec(
    eps_model: keras.Model, schedule: diffusion.DiffusionSchedule, image_shape, to_images
) -> ServingSpec:
    """The ε-network and the whole sampler (SavedModel ``sample`` signature)."""

    eps = eps_function(eps_model)
    images = sample_images(eps_model, schedule, image_shape, to_images)

    def serve(noisy_images, timesteps):
        return {"eps": eps(noisy_images, timesteps)}

    def sample(num_images, seed, steps, eta):
        return {"images": images(num_images, seed, steps, eta)}

    rng = np.random.default_rng(0)
    noisy = rng.standard_normal((NUM_EXAMPLES, *image_shape)).astype(np.float32)
    timesteps = rng.integers(0, schedule.num_steps, NUM_EXAMPLES).astype(np.int32)
    return ServingSpec(
        model=eps_model,
        inputs={
            "noisy_images": tf.TensorSpec([None, *image_shape], tf.float32, name="noisy_images"),
            "timesteps": tf.TensorSpec([None], tf.int32, name="timesteps"),
        },
        serve=serve,
        examples={"noisy_images": noisy, "timesteps": timesteps},
        representative={"noisy_images": noisy, "timesteps": timesteps},
        checks={"eps": OutputCheck(EPS_LIMITS)},
        primary="eps",
        metadata={"schedule": schedule.to_dict()},
        signatures={
            "sample": Signature(
                inputs={
                    "num_images": tf.TensorSpec([], tf.int32, name="num_images"),
                    "seed": tf.TensorSpec([], tf.int64, name="seed"),
                    "steps": tf.TensorSpec([], tf.int32, name="steps"),
                    "eta": tf.TensorSpec([], tf.float32, name="eta"),
                },
                serve=sample,
                examples=(
                    {
                        "num_images": np.int32(4),
                        "seed": np.int64(0),
                        "steps": np.int32(10),
                        "eta": np.float32(0.0),
                    },
                    {
                        "num_images": np.int32(2),
                        "seed": np.int64(3),
                        "steps": np.int32(5),
                        "eta": np.float32(1.0),
                    },
                ),
                max_abs_diff=1.0,
            )
        },
    )
