"""The training stream replays: every iterator yields what a plain seeded shuffle-repeat yields
on its first iterator (tf.data's own order is the reference), a new order each epoch."""

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.data.shuffling import shuffled_forever


def _take(dataset, n):
    return [int(x) for x in dataset.take(n)]


def test_every_iterator_replays_tf_datas_first_iterator_order():
    base = tf.data.Dataset.range(20).cache()
    stream = shuffled_forever(base, 8, seed=7)
    reference = base.shuffle(8, seed=7, reshuffle_each_iteration=True).repeat()
    first = _take(reference, 60)
    assert _take(stream, 60) == first
    assert _take(stream, 60) == first  # a second iterator: the same stream
    assert _take(reference, 60) != first  # (the plain pipeline's second iterator is not)
    assert _take(stream.skip(20), 40) == first[20:]
    epochs = np.reshape(first, (3, 20))
    assert all(sorted(e) == list(range(20)) for e in epochs)  # each epoch: every example once
    assert len({tuple(e) for e in epochs}) == 3  # reshuffled each epoch


def test_the_stream_is_known_to_be_infinite_and_rejects_a_bad_buffer():
    stream = shuffled_forever(tf.data.Dataset.range(5), 4, seed=0)
    assert int(stream.cardinality()) == tf.data.INFINITE_CARDINALITY
    with pytest.raises(ValueError, match="shuffle_buffer must be a positive integer, got 0"):
        shuffled_forever(tf.data.Dataset.range(5), 0, seed=0)
