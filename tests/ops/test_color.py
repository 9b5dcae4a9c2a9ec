"""CIE Lab conversion and the quantised ab space against float64 NumPy written from the CIE
formulas and from Zhang et al. 2016 (eq. 5), not from the code under test."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.ops.color import (
    ab_bin_centres,
    ab_from_distribution,
    lab_to_rgb,
    quantize_ab,
    rgb_to_lab,
)

# sRGB primaries under D65 and the D65 white (IEC 61966-2-1, CIE 15)
M = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
              [0.0193339, 0.1191920, 0.9503041]])  # fmt: skip
WHITE = np.array([0.95047, 1.0, 1.08883])
D = 6 / 29
LAB_ATOL = 2e-3  # float32 Lab (L up to 100) against float64
RGB_ATOL = 1e-4  # float32 round trip in [0, 1]


def reference_lab(rgb):
    rgb = np.asarray(rgb, np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    t = (linear @ M.T) / WHITE
    f = np.where(t > D**3, np.cbrt(t), t / (3 * D * D) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def reference_linear_rgb(lab):
    """Lab -> linear RGB, unclipped (float64)."""
    lab = np.asarray(lab, np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    xyz = np.where(f > D, f**3, 3 * D * D * (f - 4 / 29)) * WHITE
    return xyz @ np.linalg.inv(M).T


def test_known_colours():
    rgb = np.array([[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    lab = rgb_to_lab(rgb).numpy()
    assert lab.dtype == np.float32
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=1e-3)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-3)
    np.testing.assert_allclose(lab[2], [53.2408, 80.0925, 67.2032], atol=2e-3)
    np.testing.assert_allclose(lab[3], [87.7347, -86.1827, 83.1793], atol=2e-3)
    np.testing.assert_allclose(lab[4], [32.2970, 79.1875, -107.8602], atol=2e-3)


def test_rgb_to_lab_matches_the_formula_and_round_trips():
    rng = np.random.default_rng(0)
    rgb = rng.uniform(size=(4, 50, 3))
    rgb[0] *= 0.03  # the linear parts of the companding (c <= 0.04045) and of f (t <= eps)
    lab = rgb_to_lab(rgb.astype(np.float32)).numpy()
    assert lab.shape == (4, 50, 3)
    np.testing.assert_allclose(lab, reference_lab(rgb), atol=LAB_ATOL)
    back = lab_to_rgb(lab).numpy()
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, rgb, atol=RGB_ATOL)


def test_lab_to_rgb_clips_out_of_gamut_colours():
    lab = np.array([[50, 120, -120], [100, 0, 0], [0, 0, 0], [110, 0, 0]], np.float32)
    rgb = lab_to_rgb(lab).numpy()
    assert np.all((rgb >= 0) & (rgb <= 1))
    np.testing.assert_allclose(rgb[1], [1, 1, 1], atol=1e-4)
    np.testing.assert_allclose(rgb[2], [0, 0, 0], atol=1e-6)
    np.testing.assert_array_equal(rgb[3], [1, 1, 1])


def test_conversions_trace_and_have_finite_gradients_at_black_and_white():
    rgb = tf.constant([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.04045, 0.5, 0.001]]])
    traced = tf.function(rgb_to_lab, input_signature=[tf.TensorSpec([None, None, 3])])
    np.testing.assert_allclose(traced(rgb).numpy(), rgb_to_lab(rgb).numpy(), atol=1e-5)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(rgb)
        lab = rgb_to_lab(rgb)
        back = lab_to_rgb(lab)
    assert np.all(np.isfinite(tape.gradient(lab, rgb).numpy()))
    assert np.all(np.isfinite(tape.gradient(back, rgb).numpy()))


@functools.cache
def cube_ab():
    """ab of the docstring's colours: the RGB cube's faces at 256 levels, its interior at 17."""
    faces = [
        np.insert(np.stack(np.meshgrid(*[np.linspace(0, 1, 256)] * 2), -1).reshape(-1, 2), i, v, 1)
        for i in range(3)
        for v in (0.0, 1.0)
    ]
    interior = np.stack(np.meshgrid(*[np.linspace(0, 1, 17)] * 3), -1).reshape(-1, 3)
    return reference_lab(np.concatenate([*faces, interior]))[:, 1:]


def reference_bin_centres(step, limit):
    """The cells of side ``step`` in [-limit, limit)^2 holding one of those colours, by a loop
    over the cells."""
    ab = cube_ab()
    kept = []
    for a in np.arange(-limit, limit, step):
        in_a = ab[(ab[:, 0] >= a) & (ab[:, 0] < a + step), 1]
        for b in np.arange(-limit, limit, step):
            if np.any((in_a >= b) & (in_a < b + step)):
                kept.append((a + step / 2, b + step / 2))
    return np.array(kept)


def test_ab_bins_are_the_cells_holding_srgb_colours():
    centres = ab_bin_centres(10.0, 110.0)
    assert centres.dtype == np.float32 and centres.shape == (268, 2)  # the docstring's count
    np.testing.assert_array_equal(centres, reference_bin_centres(10.0, 110.0))
    # the primaries' and secondaries' cells are kept (they are the gamut's corners)
    corners = reference_lab(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1], [1, 0, 1],
                                      [1, 1, 0]]))[:, 1:]  # fmt: skip
    for ab in corners:
        assert np.min(np.max(np.abs(centres - ab), axis=1)) <= 5, ab
    np.testing.assert_array_equal(ab_bin_centres(20.0, 120.0), reference_bin_centres(20.0, 120.0))
    for bad in (0.0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="step"):
            ab_bin_centres(bad)
    np.testing.assert_array_equal(ab_bin_centres(15.0), reference_bin_centres(15.0, 110.0))


def test_quantize_matches_a_brute_force_argmin():
    centres = ab_bin_centres()
    ab = np.random.default_rng(0).uniform(-110, 110, size=(3, 40, 2)).astype(np.float32)
    got = quantize_ab(ab, centres).numpy()
    assert got.shape == (3, 40) and got.dtype == np.int32
    distances = ((ab[..., None, :].astype(np.float64) - centres) ** 2).sum(-1)
    np.testing.assert_array_equal(got, np.argmin(distances, axis=-1))
    # every centre is its own bin
    np.testing.assert_array_equal(quantize_ab(centres, centres).numpy(), np.arange(len(centres)))
    with pytest.raises(ValueError, match="ab"):
        quantize_ab(np.zeros((4, 3), np.float32), centres)
    with pytest.raises(ValueError, match="centres"):
        quantize_ab(ab, centres[:, :1])


def test_annealed_mean_matches_the_formula():
    centres = ab_bin_centres()
    p = np.random.default_rng(1).dirichlet(np.full(len(centres), 0.3), size=(2, 3))
    for temperature in (0.38, 1.0, 0.05):
        # f_T(z) = exp(log z / T) / sum_q exp(log z_q / T); H = sum_q f_T(z)_q c_q
        sharpened = p ** (1 / temperature)
        sharpened /= sharpened.sum(-1, keepdims=True)
        got = ab_from_distribution(p.astype(np.float32), centres, temperature).numpy()
        assert got.shape == (2, 3, 2)
        np.testing.assert_allclose(got, sharpened @ centres, atol=1e-3)
    one_hot = np.eye(len(centres), dtype=np.float32)[[3, 7]]
    np.testing.assert_allclose(ab_from_distribution(one_hot, centres).numpy(), centres[[3, 7]])
    with pytest.raises(ValueError, match="temperature"):
        ab_from_distribution(p, centres, 0.0)
    with pytest.raises(ValueError, match="probabilities"):
        ab_from_distribution(p[..., :-1], centres)
