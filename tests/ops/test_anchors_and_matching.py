import itertools

import numpy as np
import pytest

from yeehaw_tf.ops import (
    IGNORE,
    NEGATIVE,
    anchor_shapes,
    generate_anchors,
    iou,
    match,
    pyramid_anchors,
    sample_balanced,
)


def test_anchor_shapes_have_the_area_and_ratio_asked_for():
    shapes = anchor_shapes(32, scales=(1.0, 2.0), aspect_ratios=(0.5, 1.0, 2.0)).numpy()
    for (w, h), (r, s) in zip(shapes, itertools.product((0.5, 1.0, 2.0), (1.0, 2.0)), strict=True):
        assert w * h == pytest.approx((32 * s) ** 2, rel=1e-6)
        assert h / w == pytest.approx(r, rel=1e-6)


def test_anchors_tile_the_feature_map_row_major():
    anchors = generate_anchors(2, 3, stride=16, size=32, aspect_ratios=(1.0,)).numpy()
    assert anchors.shape == (6, 4)
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    expected = [((j + 0.5) * 16, (i + 0.5) * 16) for i in range(2) for j in range(3)]
    np.testing.assert_allclose(centres, expected)
    np.testing.assert_allclose(anchors[:, 2:] - anchors[:, :2], 32)


def test_pyramid_anchor_counts():
    levels = pyramid_anchors(64, 96)
    assert sorted(levels) == [8, 16, 32, 64, 128]
    assert levels[8].shape == (8 * 12 * 9, 4) and levels[128].shape == (1 * 1 * 9, 4)
    with pytest.raises(ValueError, match="one size per stride"):
        pyramid_anchors(64, 64, strides=(8, 16), sizes=(32,))


def _match_loop(m, pos, neg, low_quality):
    out = []
    for a in range(m.shape[0]):
        best = m[a].max()
        out.append(int(m[a].argmax()) if best >= pos else (NEGATIVE if best < neg else IGNORE))
    if low_quality:
        for g in range(m.shape[1]):
            top = m[:, g].max()
            for a in range(m.shape[0]):
                if top > 0 and m[a, g] == top:
                    out[a] = int(m[a].argmax())
    return out


@pytest.mark.parametrize("low_quality", [True, False])
def test_matching_follows_the_thresholds(low_quality):
    rng = np.random.default_rng(0)
    anchors = generate_anchors(6, 6, 8, 16, aspect_ratios=(0.5, 1.0, 2.0)).numpy()
    gt = np.array([[5, 5, 30, 28], [20, 10, 44, 40], [2, 44, 4, 46]], np.float32)
    m = iou(anchors, gt).numpy()
    result = match(m, 0.5, 0.4, low_quality).numpy()
    assert list(result) == _match_loop(m, 0.5, 0.4, low_quality)
    if low_quality:  # the tiny box gets an anchor although no IoU reaches 0.5
        assert 2 in result
    assert list(match(np.zeros((4, 0), np.float32)).numpy()) == [NEGATIVE] * 4
    del rng


def test_balanced_sampler_counts():
    matches = np.array([0] * 10 + [NEGATIVE] * 100 + [IGNORE] * 20)
    mask = sample_balanced(matches, 32, 0.25, seed=3).numpy()
    assert mask.sum() == 32
    assert (mask & (matches >= 0)).sum() == 8
    assert not (mask & (matches == IGNORE)).any()
    few = sample_balanced(np.array([0, 1, NEGATIVE]), 64, 0.5).numpy()
    assert few.sum() == 3
    with pytest.raises(ValueError, match="positive_fraction"):
        sample_balanced(matches, 8, 0.0)
