"""NT-Xent and the siamese losses against float64 NumPy written from the papers' formulas;
NT-Xent's global negatives under two replicas."""

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.losses.contrastive import byol_loss, negative_cosine, nt_xent


def reference_nt_xent(z1, z2, t):
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    s = z @ z.T / t
    losses = []
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        others = [k for k in range(2 * n) if k != i]
        losses.append(-(s[i, j] - np.log(np.sum(np.exp(s[i, others])))))
    return np.array(losses)


def test_nt_xent_matches_the_formula_and_its_gradient():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    got = nt_xent(z1.astype(np.float32), z2.astype(np.float32), 0.5).numpy()
    np.testing.assert_allclose(got, reference_nt_xent(z1, z2, 0.5), rtol=1e-5)
    a = tf.Variable(z1.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(nt_xent(a, z2.astype(np.float32), 0.5))
    grad = tape.gradient(loss, a).numpy()
    numeric = np.zeros_like(z1)
    for i in range(6):
        for d in range(4):
            e = np.zeros_like(z1)
            e[i, d] = 1e-6
            numeric[i, d] = (
                reference_nt_xent(z1 + e, z2, 0.5).sum() - reference_nt_xent(z1 - e, z2, 0.5).sum()
            ) / 2e-6
    np.testing.assert_allclose(grad, numeric, atol=1e-4)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(z1, z2, 0.0)


def test_nt_xent_negatives_span_all_replicas(two_replicas):
    """Halves of the batch on two replicas: the summed loss and the all-reduced gradient of a
    shared projection equal the whole batch's on one device."""
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=(8, 5)).astype(np.float32), rng.normal(size=(8, 5)).astype(np.float32)
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    w = tf.Variable(w0)
    with tf.GradientTape() as tape:
        single = tf.reduce_sum(nt_xent(x1 @ w, x2 @ w, 0.5))
    single_grad = tape.gradient(single, w).numpy()
    with two_replicas.scope():
        shared = tf.Variable(w0)

    @tf.function
    def step():
        def replica():
            context = tf.distribute.get_replica_context()
            rows = tf.range(4) + 4 * context.replica_id_in_sync_group
            a, b = tf.gather(x1, rows), tf.gather(x2, rows)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(nt_xent(a @ shared, b @ shared, 0.5))
            grad = tape.gradient(loss, shared)
            return context.all_reduce("sum", loss), context.all_reduce("sum", grad)

        return two_replicas.run(replica)

    loss, grad = (two_replicas.experimental_local_results(t)[0].numpy() for t in step())
    assert loss == pytest.approx(float(single), rel=1e-5)
    np.testing.assert_allclose(grad, single_grad, atol=1e-5)


def test_siamese_losses_match_the_formulas_and_stop_the_target_gradient():
    rng = np.random.default_rng(2)
    p, z = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    cos = np.sum(p * z, 1) / np.linalg.norm(p, axis=1) / np.linalg.norm(z, axis=1)
    np.testing.assert_allclose(negative_cosine(p, z).numpy(), -cos, rtol=1e-5)
    np.testing.assert_allclose(byol_loss(p, z).numpy(), 2 - 2 * cos, rtol=1e-5)
    target = tf.Variable(z.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(negative_cosine(p.astype(np.float32), target))
    assert tape.gradient(loss, target) is None
