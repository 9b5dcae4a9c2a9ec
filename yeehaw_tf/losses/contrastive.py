"""Losses of siamese self-supervised methods: SimCLR's NT-Xent (Chen et al. 2020), SimSiam's
negative cosine (Chen & He 2021) and BYOL's normalised squared error (Grill et al. 2020)."""

from __future__ import annotations

import tensorflow as tf


def _unit(x: tf.Tensor) -> tf.Tensor:
    return tf.math.l2_normalize(tf.cast(x, tf.float32), axis=-1, epsilon=1e-12)


def _global(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``x`` of every replica concatenated along the batch (differentiable: the gradient of
    ``all_gather`` sends each replica its rows' share), and where this replica's rows start."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return x, tf.constant(0, tf.int32)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * tf.shape(x)[0]
    return context.all_gather(x, axis=0), start


def nt_xent(z1: tf.Tensor, z2: tf.Tensor, temperature: float) -> tf.Tensor:
    """Per-row NT-Xent losses ``[2 * B]``: rows ``z1_i`` then rows ``z2_i`` of this replica.

    With ``s`` the cosine similarity, the loss of view ``i`` whose other view is ``j`` is
    ``-log(exp(s_ij / t) / sum_{k != i} exp(s_ik / t))``, the sum over every other view of the
    **global** batch: under ``tf.distribute`` the negatives come from all replicas, so halves
    of a batch on two replicas give the losses of the whole batch on one device.
    """
    if not temperature > 0:
        raise ValueError(f"nt_xent: temperature must be > 0, got {temperature}")
    z1, z2 = _unit(z1), _unit(z2)
    local = tf.shape(z1)[0]
    all1, start = _global(z1)
    all2, _ = _global(z2)
    everyone = tf.concat([all1, all2], axis=0)  # [2N, D]: first views, then second views
    total = tf.shape(all1)[0]
    queries = tf.concat([z1, z2], axis=0)  # [2B]
    logits = tf.matmul(queries, everyone, transpose_b=True) / temperature
    rows = tf.range(local) + start
    own = tf.concat([rows, rows + total], axis=0)  # each query's own column
    other = tf.concat([rows + total, rows], axis=0)  # its positive: the other view
    logits = tf.where(tf.one_hot(own, 2 * total) > 0, tf.constant(-1e9, tf.float32), logits)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=other, logits=logits)


def negative_cosine(p: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """SimSiam's ``D(p, z) = -cos(p, stopgrad(z))`` per example ``[B]``."""
    return -tf.reduce_sum(_unit(p) * tf.stop_gradient(_unit(z)), axis=-1)


def byol_loss(p: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """BYOL's ``||p/|p| - z/|z|||^2 = 2 - 2 cos(p, stopgrad(z))`` per example ``[B]``."""
    return 2.0 + 2.0 * negative_cosine(p, z)
