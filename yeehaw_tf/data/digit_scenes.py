"""Digits in scenes: each digit at a random scale and position on a larger canvas, with
distractor strokes -- the nuisance that makes *features* matter.

On centred 8x8 digits a linear classifier on random convolutional features already reaches
95% (raw pixels do as well), so no pre-training can show what it learned. Here the digit is
resized to a random side in ``[min_size, max_size]`` pixels, put at a random place of a
``size x size`` canvas, and ``strokes`` thin random bars of lower intensity are drawn around
it. Everything is a pure function of ``(seed, index)``: a split's scenes are the same every
time it is read.
"""

from __future__ import annotations

import tensorflow as tf

SALT = 0x5CE7E


def digit_scene(
    image: tf.Tensor, seed, size: int = 32, min_size: int = 14, max_size: int = 26, strokes: int = 3
) -> tf.Tensor:
    """``uint8 [h, w, 1]`` digit -> ``uint8 [size, size, 1]`` scene (see the module docstring);
    ``seed``: a ``[2]`` int64 stateless seed."""
    if not 1 <= min_size <= max_size <= size:
        raise ValueError(
            f"digit_scene: need 1 <= min_size <= max_size <= size, got {min_size}, {max_size}, "
            f"{size}"
        )
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    side = tf.random.stateless_uniform([], seeds[0], min_size, max_size + 1, tf.int32)
    digit = tf.image.resize(tf.cast(image, tf.float32), tf.stack([side, side]), "bilinear")
    corner = tf.random.stateless_uniform([2], seeds[1], 0, size - side + 1, tf.int32)
    canvas = tf.image.pad_to_bounding_box(digit, corner[0], corner[1], size, size)
    # distractor bars: 1-2 pixels thick, 4-10 long, horizontal or vertical, intensity 60-160
    params = tf.random.stateless_uniform([strokes, 6], seeds[2])
    y = tf.range(size, dtype=tf.float32)[:, None]
    x = tf.range(size, dtype=tf.float32)[None, :]
    clutter = tf.zeros([size, size])
    for i in range(strokes):
        p = params[i]
        length, thickness = 4.0 + 6.0 * p[0], 1.0 + tf.round(p[1])
        y0, x0 = p[2] * (size - 1), p[3] * (size - 1)
        horizontal = p[4] < 0.5
        height = tf.where(horizontal, thickness, length)
        width = tf.where(horizontal, length, thickness)
        bar = tf.cast((y >= y0) & (y < y0 + height) & (x >= x0) & (x < x0 + width), tf.float32)
        clutter = tf.maximum(clutter, bar * (60.0 + 100.0 * p[5]))
    scene = tf.maximum(canvas[..., 0], clutter)[..., None]
    return tf.cast(tf.round(tf.clip_by_value(scene, 0.0, 255.0)), tf.uint8)


def scene_seed(seed: int, split: int, index) -> tf.Tensor:
    base = tf.constant([SALT + int(seed), int(split)], tf.int64)
    return tf.random.experimental.stateless_fold_in(base, tf.cast(index, tf.int64))
