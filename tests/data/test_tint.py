"""The radial tint against a float64 NumPy HSV->RGB written from the formula."""

import colorsys

import numpy as np
import pytest

from yeehaw_tf.data.tint import CENTRE_HUE, EDGE_HUE, tint_radially


def reference(grey: np.ndarray) -> np.ndarray:
    g = grey[..., 0].astype(np.float64) / 255.0
    ys, xs = np.mgrid[: g.shape[0], : g.shape[1]]
    mass = max(g.sum(), 1e-6)
    cy, cx = (g * ys).sum() / mass, (g * xs).sum() / mass
    distance = np.hypot(ys - cy, xs - cx)
    extent = distance[g > 0.1].max() if (g > 0.1).any() else 0.0
    out = np.zeros((*g.shape, 3))
    for y in range(g.shape[0]):
        for x in range(g.shape[1]):
            t = min(distance[y, x] / max(extent, 1.0), 1.0)
            out[y, x] = colorsys.hsv_to_rgb(CENTRE_HUE + (EDGE_HUE - CENTRE_HUE) * t, 1, g[y, x])
    return np.round(out * 255).astype(np.uint8)


def test_tint_matches_the_hsv_formula():
    rng = np.random.default_rng(0)
    grey = np.zeros((12, 10, 1), np.uint8)
    grey[2:9, 3:7] = rng.integers(30, 256, size=(7, 4, 1))
    tinted = tint_radially(grey).numpy()
    np.testing.assert_allclose(tinted.astype(int), reference(grey).astype(int), atol=1)
    assert tinted[0].max() == 0  # background stays black


def test_the_tint_is_the_same_for_a_rotated_drawing():
    """Radially symmetric: rotating the grey image rotates its colours, nothing more."""
    rng = np.random.default_rng(1)
    grey = np.zeros((16, 16, 1), np.uint8)
    grey[3:13, 5:11] = rng.integers(30, 256, size=(10, 6, 1))
    turned = np.rot90(grey, 1, axes=(0, 1)).copy()
    np.testing.assert_allclose(
        np.rot90(tint_radially(grey).numpy(), 1, axes=(0, 1)).astype(int),
        tint_radially(turned).numpy().astype(int),
        atol=1,
    )


def test_an_empty_image_stays_black_and_bad_shapes_are_refused():
    assert tint_radially(np.zeros((4, 4, 1), np.uint8)).numpy().max() == 0
    with pytest.raises(ValueError, match="grey"):
        tint_radially(np.zeros((4, 4, 3), np.uint8))
