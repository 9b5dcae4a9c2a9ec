"""The variational autoencoder (``--task vae``): a convolutional encoder and decoder trained on
the negative ELBO (Bernoulli pixels, closed-form Gaussian KL, the reparameterization trick; see
:mod:`yeehaw_tf.losses.vae`). The noise ``eps`` of ``z = mu + sigma * eps`` comes from the
step's stateless randomness. After training: reconstructions of test images, samples from the
prior ``z ~ N(0, I)`` through the decoder, and their inception score and FID; the decoder
exports as a generator."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from yeehaw_tf.losses.vae import negative_elbo, reparameterize
from yeehaw_tf.models.registry import get_generative
from yeehaw_tf.training.tasks.base import LossOutput
from yeehaw_tf.training.tasks.generative import serving
from yeehaw_tf.training.tasks.generative.common import GenerativeTask, seeded_normal
from yeehaw_tf.training.tasks.generative.data import to_unit
from yeehaw_tf.training.tasks.generative.options import VaeOptions
from yeehaw_tf.training.tasks.generative.pictures import image_grid, write_grid, write_png
from yeehaw_tf.training.tasks.images import as_arrays


def logits_to_uint8(logits) -> tf.Tensor:
    """The decoder's Bernoulli means ``sigmoid(logits)`` as uint8 pixels."""
    probabilities = tf.sigmoid(tf.cast(logits, tf.float32))
    return tf.cast(tf.round(probabilities * 255.0), tf.uint8)


class VaeTask(GenerativeTask):
    name = "vae"
    Options = VaeOptions
    main_model = "decoder"

    def build_models(self):
        o = self.options
        parts = get_generative(o.model)
        return {
            name: parts[name](image_shape=self.image_shape, latent_dim=o.latent_dim, width=o.width)
            for name in ("encoder", "decoder")
        }

    def loss_names(self):
        return ("reconstruction", "kl")

    def compute_loss(self, models, batch, training, ctx):
        images = batch  # in [-1, 1]
        posterior = models["encoder"](images, training=training)
        mean, log_variance = posterior["mean"], posterior["log_variance"]
        eps = ctx.random.normal(tf.shape(mean), "epsilon")
        logits = models["decoder"](reparameterize(mean, log_variance, eps), training=training)
        reconstruction, kl = negative_elbo((images + 1.0) / 2.0, logits, mean, log_variance)
        total = tf.reduce_sum(reconstruction + self.options.beta * kl)
        return LossOutput(
            total, {"reconstruction": tf.reduce_sum(reconstruction), "kl": tf.reduce_sum(kl)}
        )

    def update_metrics(self, metrics, batch, outputs):
        pass

    def generate(self, models, num_images, seed):
        decoder = models["decoder"] if isinstance(models, dict) else models
        z = seeded_normal([num_images, self.options.latent_dim], seed)
        return logits_to_uint8(decoder(z, training=False)).numpy()

    def inference_model(self, models):
        """The decoder (evaluation and export); the encoder is kept for the reconstructions
        :meth:`write_artifacts` draws."""
        self._encoder = models["encoder"]
        return models["decoder"]

    def write_artifacts(self, model, data, workdir):
        self.scores = self.score(model, data)
        images, _ = as_arrays(data.test, 16)
        posterior = self._encoder(to_unit(images), training=False)
        reconstructions = logits_to_uint8(model(posterior["mean"], training=False)).numpy()
        pairs = np.concatenate([images, reconstructions])
        return {
            "scores": self.write_scores(workdir),
            "reconstructions": write_png(
                os.path.join(workdir, "samples", "reconstructions.png"), image_grid(pairs, 16)
            ),
            "grid": write_grid(
                os.path.join(workdir, "samples", "final.png"), self.generate(model, 64, 1234)
            ),
        }

    def serving_spec(self, model, data):
        return serving.generator_spec(model, self.options.latent_dim, logits_to_uint8)
