"""MAE's masked-patch MSE against float64 NumPy from the paper's description."""

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.losses.masked_autoencoder import masked_patch_mse


def reference(target, predicted, mask, normalize):
    """Per example: sum over masked patches of the mean squared pixel error / #masked."""
    batch, count, _ = target.shape
    out = np.zeros(batch)
    for b in range(batch):
        total, masked = 0.0, 0
        for n in range(count):
            t = target[b, n]
            if normalize:
                t = (t - t.mean()) / np.sqrt(t.var() + 1e-6)
            if mask[b, n]:
                total += np.mean((predicted[b, n] - t) ** 2)
                masked += 1
        out[b] = total / masked if masked else 0.0
    return out


@pytest.mark.parametrize("normalize", [False, True])
def test_masked_patch_mse_is_the_formula(normalize):
    rng = np.random.default_rng(0)
    target, predicted = rng.normal(2.0, 3.0, size=(3, 8, 12)), rng.normal(size=(3, 8, 12))
    mask = (rng.uniform(size=(3, 8)) < 0.75).astype(np.float64)
    mask[:, 0] = 1
    mask[2] = 0  # an example with nothing masked: loss 0
    got = masked_patch_mse(
        target.astype(np.float32), predicted.astype(np.float32), mask.astype(np.float32), normalize
    ).numpy()
    assert got.shape == (3,) and got[2] == 0.0
    np.testing.assert_allclose(got, reference(target, predicted, mask, normalize), rtol=1e-5)


def test_visible_patches_get_no_gradient():
    rng = np.random.default_rng(1)
    target, predicted = rng.normal(size=(3, 8, 12)), rng.normal(size=(3, 8, 12))
    mask = (rng.uniform(size=(3, 8)) < 0.75).astype(np.float32)
    mask[:, 0], mask[:, 1] = 1, 0
    variable = tf.Variable(predicted.astype(np.float32))
    for normalize in (False, True):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(
                masked_patch_mse(target.astype(np.float32), variable, mask, normalize)
            )
        grad = tape.gradient(loss, variable).numpy()
        assert np.all(grad[mask == 0] == 0) and np.all(np.abs(grad[mask == 1]).sum(-1) > 0)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="mask"):
        masked_patch_mse(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)), np.zeros((2, 4, 1)))
