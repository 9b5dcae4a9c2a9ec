"""MAE's masked-patch MSE against float64 NumPy from the paper's description."""

import numpy as np
import tensorflow as tf

from yeehaw_tf.losses.masked_autoencoder import masked_patch_mse


def reference(target, predicted, mask, normalize):
    if normalize:
        mean = target.mean(-1, keepdims=True)
        var = target.var(-1, keepdims=True)
        target = (target - mean) / np.sqrt(var + 1e-6)
    per_patch = ((predicted - target) ** 2).mean(-1)
    return (per_patch * mask).sum(1) / mask.sum(1)


def test_masked_patch_mse_counts_masked_patches_only():
    rng = np.random.default_rng(0)
    target, predicted = rng.normal(size=(3, 8, 12)), rng.normal(size=(3, 8, 12))
    mask = (rng.uniform(size=(3, 8)) < 0.75).astype(np.float64)
    mask[:, 0] = 1
    for normalize in (False, True):
        got = masked_patch_mse(
            target.astype(np.float32), predicted.astype(np.float32), mask, normalize
        ).numpy()
        np.testing.assert_allclose(got, reference(target, predicted, mask, normalize), rtol=1e-5)
    variable = tf.Variable(predicted.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(masked_patch_mse(target.astype(np.float32), variable, mask))
    grad = tape.gradient(loss, variable).numpy()
    assert np.all(grad[mask == 0] == 0) and np.all(np.abs(grad[mask == 1]).sum(-1) > 0)
