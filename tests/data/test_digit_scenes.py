"""Digit scenes: a pure function of (seed, index); the digit is the resized input, placed
inside the canvas; distractors are dimmer bars."""

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.data.digit_scenes import digit_scene, scene_seed


def test_scenes_are_deterministic_and_hold_the_resized_digit():
    digit = np.zeros((8, 8, 1), np.uint8)
    digit[1:7, 3:5] = 255  # a bright "1"
    a = digit_scene(digit, scene_seed(0, 0, 7), strokes=0).numpy()
    b = digit_scene(digit, scene_seed(0, 0, 7), strokes=0).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (32, 32, 1) and a.dtype == np.uint8
    # without distractors the scene is the digit resized to some side in [14, 26], placed
    rows, cols = np.where(a[..., 0] > 128)
    assert 14 * 6 / 8 - 2 <= rows.max() - rows.min() + 1 <= 26 * 6 / 8 + 2
    side = None
    for s in range(14, 27):
        resized = tf.image.resize(digit.astype(np.float32), (s, s)).numpy()
        y, x = np.argwhere(resized[..., 0] > 128).min(0)
        if (rows.min() - y) >= 0 and np.allclose(
            a[rows.min() - y : rows.min() - y + s, cols.min() - x : cols.min() - x + s],
            np.round(np.clip(resized, 0, 255)),
            atol=1,
        ):
            side = s
    assert side is not None
    assert not np.array_equal(a, digit_scene(digit, scene_seed(0, 0, 8), strokes=0).numpy())


def test_distractors_are_dimmer_than_the_digit_and_bad_sizes_are_refused():
    blank = np.zeros((8, 8, 1), np.uint8)
    scene = digit_scene(blank, scene_seed(0, 1, 3), strokes=3).numpy()
    assert 60 <= scene.max() <= 160
    with pytest.raises(ValueError, match="min_size"):
        digit_scene(blank, scene_seed(0, 0, 0), min_size=20, max_size=10)
