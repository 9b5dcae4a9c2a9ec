"""CIE Lab conversion against a float64 NumPy implementation of the CIE formulas."""

import numpy as np
import pytest

from yeehaw_tf.ops.color import (
    ab_bin_centres,
    ab_from_distribution,
    lab_to_rgb,
    quantize_ab,
    rgb_to_lab,
)

M = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
              [0.0193339, 0.1191920, 0.9503041]])  # fmt: skip
WHITE = np.array([0.95047, 1.0, 1.08883])


def reference_lab(rgb):
    rgb = np.asarray(rgb, np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    t = (linear @ M.T) / WHITE
    d = 6 / 29
    f = np.where(t > d**3, np.cbrt(t), t / (3 * d * d) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def test_known_colours():
    lab = rgb_to_lab(np.array([[1, 1, 1], [0, 0, 0], [1, 0, 0]], np.float32)).numpy()
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=1e-3)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-3)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.01)


def test_rgb_to_lab_matches_the_formula_and_round_trips():
    rgb = np.random.default_rng(0).uniform(size=(200, 3))
    rgb[:10] *= 0.03  # the linear part of the companding and of f
    lab = rgb_to_lab(rgb.astype(np.float32)).numpy()
    np.testing.assert_allclose(lab, reference_lab(rgb), atol=2e-3)
    np.testing.assert_allclose(lab_to_rgb(lab).numpy(), rgb, atol=1e-4)


def test_ab_bins_quantization_and_annealed_mean():
    centres = ab_bin_centres(10.0)
    assert 200 < len(centres) < 400 and np.all(np.abs(centres) < 110)
    ab = np.random.default_rng(0).uniform(-100, 100, size=(50, 2)).astype(np.float32)
    expected = np.argmin(((ab[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(quantize_ab(ab, centres).numpy(), expected)
    p = np.random.default_rng(1).dirichlet(np.ones(len(centres)), size=4)
    sharpened = np.exp(np.log(p) / 0.38)
    sharpened /= sharpened.sum(-1, keepdims=True)
    np.testing.assert_allclose(
        ab_from_distribution(p.astype(np.float32), centres).numpy(), sharpened @ centres, atol=1e-3
    )
    with pytest.raises(ValueError, match="temperature"):
        ab_from_distribution(p, centres, 0.0)
