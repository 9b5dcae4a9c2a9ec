"""GAN training (``--task gan --loss NAME``): a DCGAN pair and one of the GAN games.

Each step updates the critic ``n_critic`` times (each on fresh latents and the step's real
batch, as keras-io's WGAN-GP does; the papers draw a fresh real batch each time), clipping its
weights after each update for ``wgan``, then the generator once. Latents, and WGAN-GP's
interpolation weights, come from the step's stateless randomness, so a resumed or 2-replica run
draws what a single uninterrupted run draws. After training: a sample grid, the inception score
and FID with our scorer, and the critic's empirical Lipschitz constant (the largest input
gradient norm on real images, samples and interpolates).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from yeehaw_tf.losses import gan as gan_losses
from yeehaw_tf.models.registry import get_generative
from yeehaw_tf.training.tasks.base import LossOutput
from yeehaw_tf.training.tasks.generative import serving
from yeehaw_tf.training.tasks.generative.common import GenerativeTask, seeded_normal
from yeehaw_tf.training.tasks.generative.data import to_uint8, to_unit
from yeehaw_tf.training.tasks.generative.options import GanOptions
from yeehaw_tf.training.tasks.generative.pictures import write_grid
from yeehaw_tf.training.tasks.images import as_arrays


class GanTask(GenerativeTask):
    name = "gan"
    Options = GanOptions
    main_model = "generator"

    def __init__(self, options, **measured):
        super().__init__(options, **measured)
        self.recipe = options.recipe()
        self.lipschitz: dict = {}

    # ----------------------------------------------------------------------------- models
    def build_models(self):
        parts = get_generative(self.options.model)
        o = self.options
        return {
            "generator": parts["generator"](
                latent_dim=o.latent_dim, image_shape=self.image_shape, width=o.width
            ),
            "discriminator": parts["discriminator"](
                image_shape=self.image_shape, width=o.width, spectral_norm=self.recipe.spectral_norm
            ),
        }

    def build_optimizers(self, make_optimizer, models):
        """Both players get the loss's recipe optimizer (the run's --optimizer flags are not
        used: each GAN paper fixes its own)."""
        recipe = self.recipe

        def optimizer(name):
            if recipe.optimizer == "rmsprop":
                return keras.optimizers.RMSprop(recipe.learning_rate, name=name)
            return keras.optimizers.Adam(
                recipe.learning_rate, beta_1=recipe.beta_1, beta_2=recipe.beta_2, name=name
            )

        return {"discriminator": optimizer("discriminator"), "generator": optimizer("generator")}

    def optimizer_variables(self, name, models):
        return models[name].trainable_variables

    def loss_names(self):
        return ("real_score", "fake_score", "gradient_penalty")

    # ----------------------------------------------------------------------------- the maths
    def _latents(self, random, batch, name):
        return random.normal([batch, self.options.latent_dim], name)

    def critic_loss(self, models, real, random, prefix, training) -> LossOutput:
        """The discriminator's summed loss on ``real`` and as many generated images."""
        batch = tf.shape(real)[0]
        generator, critic = models["generator"], models["discriminator"]
        fake = generator(self._latents(random, batch, f"{prefix}/latents"), training=training)
        real_scores = critic(real, training=training)
        fake_scores = critic(fake, training=training)
        loss = gan_losses.discriminator_loss(self.options.loss, real_scores, fake_scores)
        total = tf.reduce_sum(loss)
        penalty = tf.constant(0.0)
        if self.recipe.gp_weight > 0:
            epsilon = random.uniform([batch], f"{prefix}/epsilon")
            per_example = gan_losses.gradient_penalty(critic, real, fake, epsilon, training)
            penalty = tf.reduce_sum(per_example)
            total += self.recipe.gp_weight * penalty
        components = {
            "real_score": tf.reduce_sum(tf.cast(real_scores, tf.float32)),
            "fake_score": tf.reduce_sum(tf.cast(fake_scores, tf.float32)),
            "gradient_penalty": penalty,
        }
        return LossOutput(total, components)

    def generator_loss(self, models, batch, random, name) -> tf.Tensor:
        fake = models["generator"](self._latents(random, batch, name), training=True)
        scores = models["discriminator"](fake, training=True)
        return tf.reduce_sum(gan_losses.generator_loss(self.options.loss, scores))

    def train_step(self, ctx, batch):
        real = batch
        size = tf.shape(real)[0]
        critic = ctx.models["discriminator"]
        clip = self.recipe.clip
        for i in range(self.recipe.n_critic):
            ctx.minimize(
                "discriminator",
                lambda i=i: self.critic_loss(ctx.models, real, ctx.random, f"critic_{i}", True),
                critic,
            )
            if clip:
                ctx.assign(critic.trainable_variables, lambda v: tf.clip_by_value(v, -clip, clip))
        ctx.minimize(
            "generator",
            lambda: self.generator_loss(ctx.models, size, ctx.random, "generator/latents"),
            ctx.models["generator"],
        )

    def compute_loss(self, models, batch, training, ctx):
        """Evaluation: the critic's loss on test images against generated ones."""
        return self.critic_loss(models, batch, ctx.random, "eval", training)

    # ----------------------------------------------------------------------------- results
    def generate(self, models, num_images, seed):
        generator = models["generator"] if isinstance(models, dict) else models
        latents = seeded_normal([num_images, self.options.latent_dim], seed)
        return to_uint8(generator(latents, training=False)).numpy()

    def inference_model(self, models):
        """The generator (evaluation and export); the critic is kept for
        :meth:`write_artifacts`'s Lipschitz measurement, which receives only this model."""
        self._critic = models["discriminator"]
        return models["generator"]

    def write_artifacts(self, model, data, workdir):
        self.scores = self.score(model, data)
        self.lipschitz = empirical_lipschitz(self._critic, model, data, self.options.latent_dim)
        grid = write_grid(f"{workdir}/samples/final.png", self.generate(model, 64, 1234))
        return {"scores": self.write_scores(workdir, {"lipschitz": self.lipschitz}), "grid": grid}

    def summary_rows(self, evaluation):
        rows = [("loss", self.options.loss)]
        if self.lipschitz:
            rows.append(("critic Lipschitz", f"{self.lipschitz['max']:.3f}"))
        return [*rows, *super().summary_rows(evaluation)]

    def serving_spec(self, model, data):
        return serving.generator_spec(model, self.options.latent_dim, to_uint8)


def empirical_lipschitz(critic, generator, data, latent_dim: int, count: int = 256) -> dict:
    """The largest ``||grad_x D(x)||`` over ``count`` test images, generated images and points
    between them (a lower bound on the critic's Lipschitz constant)."""
    real = to_unit(as_arrays(data.test, count)[0])
    fake = generator(seeded_normal([len(real), latent_dim], 7), training=False)
    epsilon = tf.random.stateless_uniform([len(real)], [7, 1])
    between = gan_losses.interpolates(real, fake, epsilon)
    norms = {
        name: float(tf.reduce_max(gan_losses.input_gradient_norm(critic, x)))
        for name, x in (("real", real), ("generated", fake), ("interpolates", between))
    }
    return {**norms, "max": max(norms.values())}
