"""The height tint against a float64 NumPy HSV->RGB written from the formula."""

import colorsys

import numpy as np
import pytest

from yeehaw_tf.data.tint import BOTTOM_HUE, TOP_HUE, tint_by_height


def reference(grey: np.ndarray) -> np.ndarray:
    g = grey[..., 0].astype(np.float64) / 255.0
    rows = np.where(g.max(axis=1) > 0.1)[0]
    top, bottom = (rows.min(), rows.max()) if len(rows) else (0, 0)
    out = np.zeros((*g.shape, 3))
    for y in range(g.shape[0]):
        t = np.clip((y - top) / max(bottom - top, 1), 0, 1)
        hue = TOP_HUE + (BOTTOM_HUE - TOP_HUE) * t
        for x in range(g.shape[1]):
            out[y, x] = colorsys.hsv_to_rgb(hue, 1.0, g[y, x])
    return np.round(out * 255).astype(np.uint8)


def test_tint_matches_the_hsv_formula():
    rng = np.random.default_rng(0)
    grey = np.zeros((12, 10, 1), np.uint8)
    grey[2:9, 3:7] = rng.integers(30, 256, size=(7, 4, 1))
    tinted = tint_by_height(grey).numpy()
    np.testing.assert_allclose(tinted.astype(int), reference(grey).astype(int), atol=1)
    # the drawing's top row is red, its bottom row blue; background stays black
    assert tinted[2, 3:7, 0].min() > 0 and tinted[2, 3:7, 1:].max() <= 1
    assert tinted[8, 3:7, 2].min() > 0 and tinted[8, 3:7, :2].max() <= 1
    assert tinted[0].max() == 0


def test_an_empty_image_stays_black_and_bad_shapes_are_refused():
    assert tint_by_height(np.zeros((4, 4, 1), np.uint8)).numpy().max() == 0
    with pytest.raises(ValueError, match="grey"):
        tint_by_height(np.zeros((4, 4, 3), np.uint8))
