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
from yeehaw_tf.ops.levels import is_level_key, level_key, parse_level, sorted_levels

RETINA_SCALES = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))


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


def test_pyramid_anchors_are_keyed_by_level_with_stride_two_to_the_level():
    levels = pyramid_anchors(64, 96)
    assert list(levels) == ["P3", "P4", "P5", "P6", "P7"]
    assert levels["P3"].shape == (8 * 12 * 9, 4) and levels["P7"].shape == (1 * 1 * 9, 4)
    for level in range(3, 8):  # RetinaNet: size 4 * stride, each level as generate_anchors
        want = generate_anchors(
            -(-64 // 2**level), -(-96 // 2**level), 2**level, 4 * 2**level, RETINA_SCALES
        )
        np.testing.assert_allclose(levels[f"P{level}"], want)
    # any keys, in any order; the result is ordered by level, sizes follow the keys given
    faster = pyramid_anchors(64, 64, ["P3", "P2"], sizes=(64, 32), scales=(1.0,))
    assert list(faster) == ["P2", "P3"]
    np.testing.assert_allclose(faster["P2"], generate_anchors(16, 16, 4, 32))
    np.testing.assert_allclose(faster["P3"], generate_anchors(8, 8, 8, 64))
    with pytest.raises(ValueError, match="one size per level"):
        pyramid_anchors(64, 64, ["P3", "P4"], sizes=(32,))
    for bad in ([3, 4], ["C3"], ["P3", "P3"], [], "P3"):
        with pytest.raises(ValueError, match="level"):
            pyramid_anchors(64, 64, bad)


def test_level_keys():
    assert level_key(3) == "P3" and level_key(5, "C") == "C5"
    assert parse_level("P3") == 3 and parse_level("C12", "C") == 12
    assert sorted_levels({"P10": 0, "P2": 0, "P9": 0}) == [2, 9, 10]  # not string order
    assert sorted_levels(["C3", "logits", "P4", "C2"], "C", strict=False) == [2, 3]
    for bad in ("p3", "P03", "3", "fpn_P3", "P", 3, "C3"):
        assert not is_level_key(bad)
        with pytest.raises(ValueError, match="level keys are 'P' followed by the level"):
            parse_level(bad)
    with pytest.raises(ValueError, match="level"):
        level_key(-1)
    with pytest.raises(ValueError, match="prefix"):
        level_key(3, "Q")


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
