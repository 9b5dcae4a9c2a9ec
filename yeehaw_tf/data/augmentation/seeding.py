"""Stateless seeds for Keras's random preprocessing layers: a pure function of position.

A Keras random layer draws from its own ``keras.random.SeedGenerator``, a variable that every
draw advances. Inside ``tf.data`` that makes the stream depend on history: a second iterator
over the same pipeline continues from where the first left off, and under a parallel ``map``
the order in which elements advance the state is a race, so even two fresh runs differ. A
resumed run (``dataset.skip(step)``) would then not see the batches the uninterrupted run saw.

Every Keras image layer's ``get_random_transformation(data, training, seed=...)`` accepts a seed
generator, so we pass :class:`StatelessSeedGenerator`: it has no variable, and its n-th draw is
``fold_in(seed, n)``. With ``seed`` derived from ``(run seed, element position)`` by
:func:`element_seed`, an element's augmentation depends on nothing else.
"""

from __future__ import annotations

import zlib

import keras
import tensorflow as tf

# Decorrelates augmentation draws from the shuffle (which uses the run seed itself).
_SALT = zlib.crc32(b"yeehaw_tf.data.augmentation")


class StatelessSeedGenerator(keras.random.SeedGenerator):
    """A ``SeedGenerator`` without state: the n-th ``next()`` returns ``fold_in(seed, n)``.

    ``seed``: an int64 (or int32) tensor of shape ``[2]``. Create one per transformation draw
    (the counter lives in Python, so it counts the draws of one trace). Keras's random ops accept
    it wherever they accept a ``SeedGenerator``.
    """

    def __init__(self, seed):
        # No super().__init__: that would create the state variable this class exists to avoid.
        self.name = "stateless_seed_generator"
        self._initial_seed = None
        self._seed = tf.cast(seed, tf.int64)
        self._draws = 0

    def next(self, ordered=True):
        value = tf.random.experimental.stateless_fold_in(self._seed, self._draws)
        self._draws += 1
        return value


def element_seed(seed: int, index) -> tf.Tensor:
    """The ``[2]`` int64 seed of the element at ``index`` (position in the stream) of a run
    seeded with ``seed``."""
    base = tf.constant([int(seed), _SALT], tf.int64)
    return tf.random.experimental.stateless_fold_in(base, tf.cast(index, tf.int64))


def layer_seed(seed, position: int) -> tf.Tensor:
    """The seed for the ``position``-th layer of a policy, from an element's seed."""
    return tf.random.experimental.stateless_fold_in(seed, position)
