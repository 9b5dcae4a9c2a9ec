"""Patches and MAE masking against NumPy loops."""

import numpy as np
import pytest

from yeehaw_tf.ops.patches import patchify, random_masking, unpatchify


def test_patchify_matches_a_loop_and_inverts():
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    patches = patchify(x, 4).numpy()
    assert patches.shape == (2, 4, 48)
    for b in range(2):
        for i in range(2):
            for j in range(2):
                np.testing.assert_array_equal(
                    patches[b, i * 2 + j], x[b, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].ravel()
                )
    np.testing.assert_array_equal(unpatchify(patches, 4, (8, 8, 3)).numpy(), x)
    with pytest.raises(ValueError, match="divide"):
        patchify(x, 3)


def test_random_masking_keeps_the_smallest_noise_and_restores_order():
    noise = np.random.default_rng(0).uniform(size=(3, 16)).astype(np.float32)
    keep, mask, restore = (t.numpy() for t in random_masking(noise, 0.75))
    assert keep.shape == (3, 4) and mask.shape == (3, 16)
    for b in range(3):
        np.testing.assert_array_equal(keep[b], np.argsort(noise[b])[:4])
        expected = np.ones(16)
        expected[keep[b]] = 0
        np.testing.assert_array_equal(mask[b], expected)
        np.testing.assert_array_equal(np.argsort(noise[b])[restore[b]], np.arange(16))
    with pytest.raises(ValueError, match="mask_ratio"):
        random_masking(noise, 1.0)
