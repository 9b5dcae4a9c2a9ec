"""Patches and MAE masking against NumPy loops."""

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.ops.patches import num_kept, patchify, random_masking, unpatchify


def _patchify_loop(x, p):
    """Row-major patches, each flattened (py, px, c), one pixel at a time."""
    batch, height, width, channels = x.shape
    rows, cols = height // p, width // p
    out = np.zeros((batch, rows * cols, p * p * channels), x.dtype)
    for b in range(batch):
        for i in range(rows):
            for j in range(cols):
                for py in range(p):
                    for px in range(p):
                        for c in range(channels):
                            k = (py * p + px) * channels + c
                            out[b, i * cols + j, k] = x[b, i * p + py, j * p + px, c]
    return out


@pytest.mark.parametrize(("shape", "p"), [((2, 8, 8, 3), 4), ((1, 6, 9, 2), 3), ((2, 4, 4, 1), 1)])
def test_patchify_matches_a_loop_and_unpatchify_inverts_it(shape, p):
    x = np.random.default_rng(0).normal(size=shape)
    patches = patchify(x, p).numpy()
    np.testing.assert_array_equal(patches, _patchify_loop(x, p))
    np.testing.assert_array_equal(unpatchify(patches, p, shape[1:]).numpy(), x)
    graph = tf.function(lambda t: patchify(t, p))(tf.constant(x))  # dynamic batch in a graph
    np.testing.assert_array_equal(graph.numpy(), patches)


def test_patch_sizes_and_shapes_are_checked():
    x = np.zeros((2, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="divide"):
        patchify(x, 3)
    with pytest.raises(ValueError, match="positive integer"):
        patchify(x, 0)
    with pytest.raises(ValueError, match=r"\[batch, H, W, C\]"):
        patchify(x[0], 4)
    with pytest.raises(ValueError, match=r"\[batch, 4, 48\]"):
        unpatchify(np.zeros((2, 4, 47), np.float32), 4, (8, 8, 3))


def _masking_loop(noise, mask_ratio):
    batch, count = noise.shape
    keep_count = max(1, int(count * (1 - mask_ratio)))
    keep = np.zeros((batch, keep_count), np.int64)
    mask = np.ones((batch, count))
    restore = np.zeros((batch, count), np.int64)
    for b in range(batch):
        order = sorted(range(count), key=lambda n: noise[b, n])  # ascending noise
        keep[b] = order[:keep_count]
        for rank, n in enumerate(order):
            restore[b, n] = rank  # where patch n sits in the shuffled sequence
            if rank < keep_count:
                mask[b, n] = 0.0
    return keep, mask, restore


@pytest.mark.parametrize("mask_ratio", [0.0, 0.5, 0.75, 0.9])
def test_random_masking_matches_a_loop(mask_ratio):
    noise = np.random.default_rng(1).uniform(size=(3, 16)).astype(np.float32)
    keep, mask, restore = random_masking(noise, mask_ratio)
    assert keep.dtype == tf.int32 and restore.dtype == tf.int32 and mask.dtype == tf.float32
    want_keep, want_mask, want_restore = _masking_loop(noise, mask_ratio)
    np.testing.assert_array_equal(keep.numpy(), want_keep)
    np.testing.assert_array_equal(mask.numpy(), want_mask)
    np.testing.assert_array_equal(restore.numpy(), want_restore)
    assert keep.shape[1] == int(16 * (1 - mask_ratio))
    # restore is argsort(argsort(noise)): it un-shuffles the [visible, masked] sequence
    shuffled = np.argsort(noise, axis=1)
    for b in range(3):
        np.testing.assert_array_equal(shuffled[b][restore.numpy()[b]], np.arange(16))


def test_random_masking_in_a_graph_with_a_dynamic_batch():
    noise = np.random.default_rng(2).uniform(size=(4, 9)).astype(np.float32)
    eager = random_masking(noise, 0.5)
    graph = tf.function(
        lambda t: random_masking(t, 0.5), input_signature=[tf.TensorSpec([None, 9])]
    )(tf.constant(noise))
    for got, want in zip(graph, eager, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert eager[0].shape == (4, 4)  # int(9 * 0.5)


def test_mask_ratio_is_checked_and_one_patch_stays_visible():
    noise = np.zeros((1, 16), np.float32)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="mask_ratio"):
            random_masking(noise, bad)
    assert num_kept(16, 0.99) == 1  # int(0.16) = 0, but the encoder needs a token
    assert num_kept(64, 0.75) == 16
