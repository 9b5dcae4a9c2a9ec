"""CIE L*a*b* colour (D65 white, sRGB primaries) and the quantised ab space of colorization
(Zhang et al. 2016), as TensorFlow ops.

sRGB -> linear RGB: ``c / 12.92`` if ``c <= 0.04045`` else ``((c + 0.055) / 1.055) ** 2.4``;
linear RGB -> XYZ by the sRGB matrix; XYZ / white -> ``f(t) = t ** (1/3)`` if ``t > (6/29)^3``
else ``t / (3 (6/29)^2) + 4/29``; ``L = 116 f(Y) - 16``, ``a = 500 (f(X) - f(Y))``,
``b = 200 (f(Y) - f(Z))``. The inverse runs the same steps backwards.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
DELTA = 6.0 / 29.0


def _f(t):
    return tf.where(
        t > DELTA**3, tf.pow(tf.maximum(t, DELTA**3), 1.0 / 3.0), t / (3 * DELTA**2) + 4.0 / 29.0
    )


def _f_inverse(t):
    return tf.where(t > DELTA, t**3, 3 * DELTA**2 * (t - 4.0 / 29.0))


def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB in [0, 1], ``[..., 3]`` -> L*a*b* (L in [0, 100])."""
    rgb = tf.convert_to_tensor(rgb, tf.float32)
    if rgb.shape[-1] != 3:
        raise ValueError(f"rgb_to_lab: the last axis must hold 3 channels, got {rgb.shape}")
    linear = tf.where(
        rgb <= 0.04045, rgb / 12.92, tf.pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4)
    )
    xyz = tf.tensordot(linear, tf.constant((RGB_TO_XYZ / WHITE_D65[:, None]).T, tf.float32), 1)
    fx, fy, fz = tf.unstack(_f(xyz), axis=-1)
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab: tf.Tensor) -> tf.Tensor:
    """L*a*b* ``[..., 3]`` -> sRGB in [0, 1] (out-of-gamut colours clipped)."""
    lab = tf.convert_to_tensor(lab, tf.float32)
    lightness, a, b = tf.unstack(lab, axis=-1)
    fy = (lightness + 16.0) / 116.0
    f = tf.stack([fy + a / 500.0, fy, fy - b / 200.0], axis=-1)
    xyz = _f_inverse(f) * tf.constant(WHITE_D65, tf.float32)
    linear = tf.tensordot(xyz, tf.constant(np.linalg.inv(RGB_TO_XYZ).T, tf.float32), 1)
    linear = tf.clip_by_value(linear, 0.0, 1.0)
    rgb = tf.where(
        linear <= 0.0031308,
        linear * 12.92,
        1.055 * tf.pow(tf.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055,
    )
    return tf.clip_by_value(rgb, 0.0, 1.0)


def ab_bin_centres(step: float = 10.0, limit: float = 110.0) -> np.ndarray:
    """``[K, 2]`` centres of the ``step``-sided ab cells in ``[-limit, limit)^2`` that hold an
    in-gamut sRGB colour at some lightness (tested at L = 0, 5, ..., 100 and at the cell's
    corners and centre). Zhang et al. keep 313 such cells with step 10; this test keeps 248
    (a coarser gamut test than theirs)."""
    if not step > 0 or not limit > 0:
        raise ValueError(f"ab_bin_centres: step and limit must be > 0, got {step}, {limit}")
    edges = np.arange(-limit, limit, step)
    centres = np.array([(a + step / 2, b + step / 2) for a in edges for b in edges])
    offsets = np.array([(0, 0), (-0.45, -0.45), (-0.45, 0.45), (0.45, -0.45), (0.45, 0.45)])
    lightness = np.linspace(0, 100, 21)
    keep = np.zeros(len(centres), bool)
    for off in offsets:
        ab = centres + off * step
        lab = np.concatenate(
            [
                np.repeat(lightness, len(ab))[:, None],
                np.tile(ab, (len(lightness), 1)),
            ],
            axis=1,
        )
        rgb = _lab_to_linear_rgb_unclipped(lab).reshape(len(lightness), len(ab), 3)
        keep |= np.any(np.all((rgb >= 0) & (rgb <= 1), axis=-1), axis=0)
    return centres[keep].astype(np.float32)


def _lab_to_linear_rgb_unclipped(lab: np.ndarray) -> np.ndarray:
    lightness, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    fy = (lightness + 16.0) / 116.0
    f = np.stack([fy + a / 500.0, fy, fy - b / 200.0], axis=-1)
    xyz = np.where(f > DELTA, f**3, 3 * DELTA**2 * (f - 4.0 / 29.0)) * WHITE_D65
    return xyz @ np.linalg.inv(RGB_TO_XYZ).T


def quantize_ab(ab: tf.Tensor, centres) -> tf.Tensor:
    """int32 index of the nearest of ``centres [K, 2]`` for every ``ab [..., 2]``."""
    ab = tf.convert_to_tensor(ab, tf.float32)
    centres = tf.convert_to_tensor(centres, tf.float32)
    distances = tf.reduce_sum(tf.square(ab[..., None, :] - centres), axis=-1)
    return tf.argmin(distances, axis=-1, output_type=tf.int32)


def ab_from_distribution(probabilities, centres, temperature: float = 0.38) -> tf.Tensor:
    """Zhang et al.'s annealed mean: ``p ** (1/T)`` renormalised, then the mean of the bin
    centres under it, ``[..., K] -> [..., 2]`` (T=1: the mean; T->0: the mode)."""
    if not temperature > 0:
        raise ValueError(f"ab_from_distribution: temperature must be > 0, got {temperature}")
    logp = tf.math.log(tf.maximum(tf.cast(probabilities, tf.float32), 1e-12)) / temperature
    sharpened = tf.nn.softmax(logp, axis=-1)
    return tf.tensordot(sharpened, tf.convert_to_tensor(centres, tf.float32), 1)
