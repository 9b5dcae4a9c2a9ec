"""Test-only tasks that exercise the Task contract where classification cannot.

* :class:`TwoPlayerTask`: two models and two optimizers with an alternating step (a tiny
  adversarial pair on random vectors): the critic is updated ``n_critic`` times on real vectors
  against generated ones, then the generator; the generator's input noise comes from the
  step's stateless randomness. ``poison_generator_at`` makes the generator's loss NaN at one
  step (after the critic was updated), to check that the whole step is undone.
* :class:`PositivesTask`: ragged box targets and a positives normaliser: each example has a
  variable number of target boxes; the loss is the squared error of the predicted box to every
  target, summed, divided by the number of boxes summed over all replicas.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.training.tasks import LossOutput, Task, TaskOptions

DIM = 4


@dataclasses.dataclass(frozen=True)
class TwoPlayerOptions(TaskOptions):
    n_critic: int = 2
    poison_generator_at: int = -1


def _mlp(name: str, inputs: int, outputs: int, seed: int) -> keras.Model:
    init = keras.initializers.GlorotUniform(seed=seed)
    x = keras.Input((inputs,))
    h = keras.layers.Dense(8, activation="tanh", kernel_initializer=init, name="hidden")(x)
    y = keras.layers.Dense(outputs, kernel_initializer=init, name="out")(h)
    return keras.Model(x, y, name=name)


class TwoPlayerTask(Task):
    name = "two_player_test"
    Options = TwoPlayerOptions
    main_model = "generator"

    def build_models(self):
        return {"generator": _mlp("generator", DIM, DIM, 1), "critic": _mlp("critic", DIM, 1, 2)}

    def build_optimizers(self, make_optimizer, models):
        return {"critic": make_optimizer(), "generator": make_optimizer()}

    def optimizer_variables(self, name, models):
        return models[name].trainable_variables

    def loss_names(self):
        return ("critic_real", "critic_fake")

    def _fake(self, ctx, real, name):
        noise = ctx.random.normal(tf.shape(real), name)
        return ctx.models["generator"](noise, training=True)

    def train_step(self, ctx, batch):
        real = batch
        generator, critic = ctx.models["generator"], ctx.models["critic"]
        for i in range(self.options.n_critic):

            def critic_loss(i=i):
                fake = self._fake(ctx, real, f"critic_{i}/noise")
                real_term = tf.reduce_sum(tf.nn.softplus(-critic(real, training=True)))
                fake_term = tf.reduce_sum(tf.nn.softplus(critic(fake, training=True)))
                return LossOutput(
                    real_term + fake_term,
                    {"critic_real": real_term, "critic_fake": fake_term},
                )

            ctx.minimize("critic", critic_loss, critic)

        def generator_loss():
            fake = self._fake(ctx, real, "generator/noise")
            loss = tf.reduce_sum(tf.nn.softplus(-critic(fake, training=True)))
            poison = tf.equal(ctx.step, self.options.poison_generator_at)
            return tf.where(poison, tf.constant(np.nan, tf.float32), loss)

        ctx.minimize("generator", generator_loss, generator)


def two_player_data(n: int = 64, batch: int = 8, seed: int = 0) -> tf.data.Dataset:
    """Real vectors: a shifted Gaussian; an infinite dataset of batches."""
    rng = np.random.default_rng(seed)
    real = (rng.normal(size=(n, DIM)) + 2.0).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(real).batch(batch, drop_remainder=True).repeat()


class PositivesTask(Task):
    """A linear model predicts one box per example from its features; the targets are a
    ragged set of boxes per example."""

    name = "positives_test"

    def build_models(self):
        init = keras.initializers.GlorotUniform(seed=3)
        x = keras.Input((DIM,))
        return {"model": keras.Model(x, keras.layers.Dense(4, kernel_initializer=init)(x))}

    def compute_loss(self, models, batch, training, ctx):
        features, boxes = batch  # boxes: ragged [batch, None, 4]
        predicted = models["model"](features, training=training)  # [batch, 4]
        rows = boxes.value_rowids()
        errors = tf.reduce_sum(tf.square(boxes.values - tf.gather(predicted, rows)), axis=-1)
        return LossOutput(
            total=tf.reduce_sum(errors),
            outputs=predicted,
            normalizer=tf.cast(tf.size(rows), tf.float32),
        )

    def update_metrics(self, metrics, batch, outputs):
        pass


def positives_data(counts, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Features ``[len(counts), DIM]`` and, per example, ``counts[i]`` target boxes."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(len(counts), DIM)).astype(np.float32)
    boxes = [rng.uniform(size=(c, 4)).astype(np.float32) for c in counts]
    return features, boxes


def positives_dataset(features, boxes, batch: int) -> tf.data.Dataset:
    ragged = tf.RaggedTensor.from_row_lengths(
        np.concatenate(boxes).reshape(-1, 4), [len(b) for b in boxes]
    )
    ds = tf.data.Dataset.from_tensor_slices((features, ragged))
    return ds.batch(batch, drop_remainder=True).repeat()
