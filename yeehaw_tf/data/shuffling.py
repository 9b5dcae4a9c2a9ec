"""The training stream's order: shuffled with a seed, reshuffled each epoch, repeated -- and
the same stream from every iterator made over it.

``ds.shuffle(buffer, seed, reshuffle_each_iteration=True).repeat()`` alone shares its seed
generator between iterators of one dataset object, so a *second* iterator yields a different
order (Keras ``fit`` under a ``tf.distribute`` strategy makes one to build the model, then a
fresh one to train: on 2 replicas it trained on other examples than the custom loop). Built
inside ``flat_map``, the shuffle (and its seed generator) is made anew for each iterator, so
every iterator replays the first one's order; that order is the plain pipeline's first-iterator
order, so nothing measured changes.
"""

from __future__ import annotations

import tensorflow as tf


def shuffled_forever(dataset: tf.data.Dataset, shuffle_buffer: int, seed: int) -> tf.data.Dataset:
    """``dataset`` shuffled with ``seed`` (a new order each epoch) and repeated; every iterator
    over the result yields the same stream. ``shuffle_buffer`` is the pipelines' argument of
    that name (``tf.data.Dataset.shuffle``'s ``buffer_size``)."""
    if shuffle_buffer < 1:
        raise ValueError(f"shuffle_buffer must be a positive integer, got {shuffle_buffer}")
    stream = tf.data.Dataset.range(1).flat_map(
        lambda _: dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    )
    return stream.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))
