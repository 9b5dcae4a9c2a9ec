"""Randomness inside a training step: stateless, seeded from ``(seed, step)``.

Noise, timesteps, masks, augmentation and attacks drawn inside the step must not depend on how
many replicas share the batch, nor on whether the run was interrupted: a resumed run and a
2-replica run must see the random numbers an uninterrupted single-device run sees. So nothing
here keeps state. Every draw is a pure function of the run's seed, the step (a checkpointed
counter), and a ``name`` that tells the draws of one step apart; a per-example draw is made for
the **global** batch and each replica takes its own rows, so replica ``r`` gets exactly the rows
a single device would give its examples.
"""

from __future__ import annotations

import zlib

import tensorflow as tf


class StepRandomness:
    """Stateless random draws for one step on one replica.

    Args:
        seed: the run's seed (an int).
        step: the step being taken (int64 scalar tensor).
        replica: this replica's index in the sync group (global across workers).
        num_replicas: replicas in sync.

    Every method takes a ``name``, unique within the step (e.g. ``"noise"``, ``"timesteps"``,
    ``"critic_1/epsilon"``): the same name at the same step gives the same numbers.
    """

    def __init__(self, seed: int, step, replica=0, num_replicas: int = 1):
        self._seed = int(seed)
        self._step = tf.cast(step, tf.int64)
        self._replica = replica
        self._num_replicas = int(num_replicas)

    def seed(self, name: str) -> tf.Tensor:
        """A stateless seed ``[2]`` (int64) for ``name`` at this step, the same on every
        replica: for draws that are not per example (pass it to ``tf.random.stateless_*``)."""
        base = tf.constant([self._seed, zlib.crc32(name.encode())], tf.int64)
        return tf.random.experimental.stateless_fold_in(base, self._step)

    def replica_seed(self, name: str) -> tf.Tensor:
        """A seed that differs between replicas (for draws that need not match a single-device
        run, e.g. per-replica dropout masks of a model's internals)."""
        return tf.random.experimental.stateless_fold_in(self.seed(name), self._replica)

    def _rows(self, draw, shape, name):
        """``draw(global_shape, seed)`` for the global batch; this replica's rows of it."""
        shape = tf.unstack(shape) if isinstance(shape, tf.Tensor) else list(shape)
        if self._num_replicas == 1:
            return draw(shape, self.seed(name))
        rows = shape[0]
        values = draw([rows * self._num_replicas, *shape[1:]], self.seed(name))
        start = tf.cast(self._replica, tf.int32) * rows
        return values[start : start + rows]

    def normal(self, shape, name: str, dtype=tf.float32) -> tf.Tensor:
        """Standard normal values; ``shape[0]`` is this replica's batch."""
        return self._rows(
            lambda s, seed: tf.random.stateless_normal(s, seed, dtype=dtype), shape, name
        )

    def uniform(self, shape, name: str, minval=0.0, maxval=1.0, dtype=tf.float32) -> tf.Tensor:
        """Uniform values in ``[minval, maxval)``; for integer ``dtype`` both bounds are needed."""
        return self._rows(
            lambda s, seed: tf.random.stateless_uniform(
                s, seed, minval=minval, maxval=maxval, dtype=dtype
            ),
            shape,
            name,
        )
