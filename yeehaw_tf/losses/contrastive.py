"""Losses of siamese self-supervised methods, per example (plain functions on tensors):

- SimCLR's NT-Xent (Chen, Kornblith, Norouzi & Hinton 2020, "A Simple Framework for
  Contrastive Learning of Visual Representations", eq. 1), with the negatives of the whole
  global batch under ``tf.distribute``: :func:`nt_xent`;
- SimSiam's negative cosine (Chen & He 2021, "Exploring Simple Siamese Representation
  Learning", eq. 1 with the stop-gradient of eq. 3): :func:`negative_cosine`;
- BYOL's normalised squared error (Grill et al. 2020, "Bootstrap Your Own Latent", eq. 2):
  :func:`byol_loss`.

Embeddings are compared in float32 (float64 inputs stay float64), whatever the compute dtype.
"""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.losses.distillation import check_temperature


def _embeddings(a, b, names: tuple[str, str]) -> tuple[tf.Tensor, tf.Tensor]:
    """``a`` and ``b`` as ``[B, D]`` tensors of one float dtype, checked to match."""
    a, b = tf.convert_to_tensor(a), tf.convert_to_tensor(b)
    dtype = tf.float64 if tf.float64 in (a.dtype, b.dtype) else tf.float32
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    if a.shape.rank != 2 or b.shape.rank != 2 or not a.shape.is_compatible_with(b.shape):
        raise ValueError(
            f"{names[0]} and {names[1]} must both be [batch, dim] with the same shape, got "
            f"{a.shape} and {b.shape}"
        )
    return a, b


def _unit(x: tf.Tensor) -> tf.Tensor:
    return tf.math.l2_normalize(x, axis=-1, epsilon=1e-12)


def _global_batch(h1: tf.Tensor, h2: tf.Tensor):
    """Every replica's ``h1`` and ``h2`` concatenated along the batch (replica order), and the
    global index of this replica's first row.

    ``ReplicaContext.all_gather`` is differentiable: its gradient all-reduces (sums) the
    incoming gradients of the gathered tensor and hands each replica its own rows' slice, which
    is the gradient of the loss summed over replicas (checked in
    ``tests/losses/test_contrastive.py``). Batches may differ in size across replicas (a last
    partial batch); the start is counted from the gathered sizes.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return h1, h2, tf.constant(0, tf.int32)
    all1, all2 = context.all_gather([h1, h2], axis=0)
    sizes = context.all_gather(tf.shape(h1)[:1], axis=0)  # [replicas]
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    before = tf.range(context.num_replicas_in_sync) < replica
    start = tf.reduce_sum(tf.where(before, sizes, tf.zeros_like(sizes)))
    return all1, all2, start


def nt_xent(z1, z2, temperature: float) -> tf.Tensor:
    """SimCLR's NT-Xent (normalised temperature-scaled cross-entropy), one loss per view.

    With ``s(u, v) = u.v / (|u| |v|)`` (cosine similarity) over the ``2N`` views of the global
    batch, the loss of view ``i`` whose other view (its positive) is ``j`` is::

        l(i, j) = -log( exp(s_ij / t) / sum_{k != i} exp(s_ik / t) )

    the sum running over the positive and all ``2N - 2`` other views (negatives); SimCLR's
    loss is the mean over all ``2N`` views. Under ``tf.distribute`` with several replicas each
    replica holds ``B`` of the ``N`` examples: its rows are scored against the views of *every*
    replica (gathered with ``all_gather``, gradients included), so the rows of all replicas
    together are exactly the single-device rows of the global batch; with one replica, or no
    strategy, the batch is the global batch.

    Args:
        z1, z2: ``[B, D]`` embeddings (projections) of the two views of this replica's ``B``
            examples; row ``i`` of ``z1`` and of ``z2`` are the positive pair.
        temperature: ``t`` > 0 (the paper: 0.1 to 0.5, 0.5 at batch 256-512 with LARS).

    Returns:
        ``[2 * B]``: the losses of this replica's rows ``z1_0 .. z1_{B-1}`` (positives ``z2_i``)
        then ``z2_0 .. z2_{B-1}`` (positives ``z1_i``). Sum them and divide by ``2 N`` (summed
        over replicas) for the paper's mean.
    """
    temperature = check_temperature(temperature)
    z1, z2 = _embeddings(z1, z2, ("z1", "z2"))
    h1, h2 = _unit(z1), _unit(z2)
    all1, all2, start = _global_batch(h1, h2)
    local, total = tf.shape(h1)[0], tf.shape(all1)[0]
    keys = tf.concat([all1, all2], axis=0)  # [2N, D]: every first view, then every second
    queries = tf.concat([h1, h2], axis=0)  # [2B, D]
    logits = tf.matmul(queries, keys, transpose_b=True) / temperature  # [2B, 2N]
    rows = start + tf.range(local)
    own = tf.concat([rows, rows + total], axis=0)  # each query's own column: k = i
    positive = tf.concat([rows + total, rows], axis=0)  # the other view: j
    is_self = tf.equal(own[:, None], tf.range(2 * total)[None, :])
    # exp(-1e9) is 0: the self-similarity leaves the denominator (SimCLR's LARGE_NUM)
    logits = tf.where(is_self, tf.constant(-1e9, logits.dtype), logits)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=positive, logits=logits)
    if z1.shape[0] is not None:
        losses.set_shape([2 * z1.shape[0]])
    return losses


def _cosine_to_target(p, z) -> tf.Tensor:
    p, z = _embeddings(p, z, ("p", "z"))
    return tf.reduce_sum(_unit(p) * tf.stop_gradient(_unit(z)), axis=-1)


def negative_cosine(p, z) -> tf.Tensor:
    """SimSiam's ``D(p, z) = -(p / |p|) . (z / |z|)`` with ``z`` held still (stop-gradient),
    per example ``[B]``, in [-1, 1]. ``p``: the predictor's output for one view; ``z``: the
    projection of the other; both ``[B, D]``. The symmetrised loss is
    ``D(p1, z2) / 2 + D(p2, z1) / 2``."""
    return -_cosine_to_target(p, z)


def byol_loss(p, z) -> tf.Tensor:
    """BYOL's ``|p / |p| - z / |z||^2 = 2 - 2 cos(p, z)`` with ``z`` (the target network's
    projection) held still, per example ``[B]``, in [0, 4]. ``p``: the online network's
    prediction; both ``[B, D]``. BYOL symmetrises by swapping the views and adding."""
    return 2.0 - 2.0 * _cosine_to_target(p, z)
