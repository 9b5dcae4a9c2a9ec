"""NT-Xent and the siamese losses against float64 NumPy written from the papers' formulas, their
gradients against finite differences of those references, and NT-Xent's global negatives under
two replicas."""

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from yeehaw_tf.losses.contrastive import byol_loss, negative_cosine, nt_xent

FLOAT64_ATOL = 1e-9
FINITE_DIFFERENCE_ATOL = 1e-6  # central differences with h = 1e-6 in float64


def reference_nt_xent(z1, z2, t):
    """Chen et al. 2020, eq. 1: rows z1_0..z1_{N-1}, then z2_0..z2_{N-1}."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    s = z @ z.T
    losses = []
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        denominator = sum(np.exp(s[i, k] / t) for k in range(2 * n) if k != i)
        losses.append(-np.log(np.exp(s[i, j] / t) / denominator))
    return np.array(losses)


def numeric_gradient(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[index] = h
        grad[index] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


def test_nt_xent_matches_the_formula():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    for t in (0.5, 0.1, 2.0):
        got = nt_xent(z1.astype(np.float32), z2.astype(np.float32), t)
        assert got.shape == (12,) and got.dtype == tf.float32
        np.testing.assert_allclose(got.numpy(), reference_nt_xent(z1, z2, t), rtol=1e-5)
        np.testing.assert_allclose(
            nt_xent(z1, z2, t).numpy(), reference_nt_xent(z1, z2, t), atol=FLOAT64_ATOL
        )
    # a single example: the positive is the only other view, the loss is 0
    np.testing.assert_allclose(nt_xent(z1[:1], z2[:1], 0.5).numpy(), [0.0, 0.0], atol=1e-6)
    traced = tf.function(
        lambda a, b: nt_xent(a, b, 0.5), input_signature=[tf.TensorSpec([None, 4])] * 2
    )
    np.testing.assert_allclose(
        traced(z1.astype(np.float32), z2.astype(np.float32)).numpy(),
        reference_nt_xent(z1, z2, 0.5),
        rtol=1e-5,
    )


def test_nt_xent_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    a, b = tf.Variable(z1), tf.Variable(z2)  # float64: the op keeps it
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(nt_xent(a, b, 0.3))
    grad1, grad2 = (g.numpy() for g in tape.gradient(loss, [a, b]))
    np.testing.assert_allclose(
        grad1,
        numeric_gradient(lambda x: reference_nt_xent(x, z2, 0.3).sum(), z1),
        atol=FINITE_DIFFERENCE_ATOL,
    )
    np.testing.assert_allclose(
        grad2,
        numeric_gradient(lambda x: reference_nt_xent(z1, x, 0.3).sum(), z2),
        atol=FINITE_DIFFERENCE_ATOL,
    )


def test_nt_xent_arguments_are_checked():
    z = np.ones((3, 4), np.float32)
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            nt_xent(z, z, bad)
    with pytest.raises(ValueError, match="z1 and z2"):
        nt_xent(z, z[:, :3], 0.5)
    with pytest.raises(ValueError, match="z1 and z2"):
        nt_xent(z[0], z[0], 0.5)


@pytest.mark.parametrize("split", [4, 3], ids=["halves", "3+5"])
def test_nt_xent_negatives_span_all_replicas(two_replicas, split):
    """The batch split over two replicas (equally, and 3 + 5): every replica's rows equal the
    single-device rows of the whole batch, and so do the summed loss and the all-reduced
    gradient of a shared projection ``z = x @ W``."""
    rng = np.random.default_rng(2)
    n = 8
    x1, x2 = rng.normal(size=(n, 5)), rng.normal(size=(n, 5))
    w0 = rng.normal(size=(5, 3))
    expected_rows = reference_nt_xent(x1 @ w0, x2 @ w0, 0.5)
    expected_grad = numeric_gradient(lambda w: reference_nt_xent(x1 @ w, x2 @ w, 0.5).sum(), w0)
    x1, x2, w0 = x1.astype(np.float32), x2.astype(np.float32), w0.astype(np.float32)
    with two_replicas.scope():
        shared = tf.Variable(w0)

    @tf.function
    def step():
        def replica():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            rows = tf.where(first, 0, split) + tf.range(tf.where(first, split, n - split))
            a, b = tf.gather(x1, rows), tf.gather(x2, rows)
            with tf.GradientTape() as tape:
                per_row = nt_xent(a @ shared, b @ shared, 0.5)
                loss = tf.reduce_sum(per_row)
            grad = tape.gradient(loss, shared)
            return per_row, context.all_reduce("sum", loss), context.all_reduce("sum", grad)

        return two_replicas.run(replica)

    per_row, loss, grad = (
        [t.numpy() for t in two_replicas.experimental_local_results(v)] for v in step()
    )
    for replica, rows in enumerate([np.arange(split), np.arange(split, n)]):
        np.testing.assert_allclose(
            per_row[replica], expected_rows[np.concatenate([rows, rows + n])], atol=FLOAT32_ATOL
        )
    assert loss[0] == pytest.approx(expected_rows.sum(), rel=1e-5)
    np.testing.assert_allclose(grad[0], expected_grad, atol=1e-4)
    np.testing.assert_allclose(grad[1], grad[0])


def test_siamese_losses_match_the_formulas_and_stop_the_target_gradient():
    rng = np.random.default_rng(3)
    p, z = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))

    def cosine(p, z):
        return np.sum(p * z, 1) / np.linalg.norm(p, axis=1) / np.linalg.norm(z, axis=1)

    np.testing.assert_allclose(negative_cosine(p, z).numpy(), -cosine(p, z), atol=FLOAT64_ATOL)
    np.testing.assert_allclose(byol_loss(p, z).numpy(), 2 - 2 * cosine(p, z), atol=FLOAT64_ATOL)
    # BYOL's form: the squared distance of the unit vectors
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(
        byol_loss(p, z).numpy(), np.sum((unit(p) - unit(z)) ** 2, 1), atol=FLOAT64_ATOL
    )
    got = negative_cosine(p.astype(np.float32), z.astype(np.float32))
    assert got.dtype == tf.float32 and got.shape == (5,)
    np.testing.assert_allclose(got.numpy(), -cosine(p, z), atol=FLOAT32_ATOL)
    for loss_fn, reference in [(negative_cosine, lambda q: -cosine(q, z)),
                               (byol_loss, lambda q: 2 - 2 * cosine(q, z))]:  # fmt: skip
        online, target = tf.Variable(p), tf.Variable(z)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(loss_fn(online, target))
        grad_p, grad_z = tape.gradient(loss, [online, target])
        assert grad_z is None  # the target is held still
        np.testing.assert_allclose(
            grad_p.numpy(),
            numeric_gradient(lambda q: reference(q).sum(), p),  # noqa: B023
            atol=FINITE_DIFFERENCE_ATOL,
        )
    with pytest.raises(ValueError, match="p and z"):
        negative_cosine(p, z[:, :2])
