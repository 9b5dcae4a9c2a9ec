import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from yeehaw_tf.ops import (
    ALL_FORMATS,
    clip_boxes,
    convert_boxes,
    decode_boxes,
    encode_boxes,
    giou,
    iou,
)


def _random_boxes(n, seed, size=100.0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, size * 0.8, (n, 2))
    wh = rng.uniform(1, size * 0.5, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def _iou_loop(a, b):
    """Float64 reference: one pair at a time, from the definition."""
    out = np.zeros((len(a), len(b)))
    for i, j in itertools.product(range(len(a)), range(len(b))):
        iw = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
        ih = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
        inter = iw * ih
        union = (
            (a[i, 2] - a[i, 0]) * (a[i, 3] - a[i, 1])
            + (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1])
            - inter
        )
        out[i, j] = inter / union if union > 0 else 0.0
    return out


def _giou_loop(a, b):
    out = _iou_loop(a, b)
    for i, j in itertools.product(range(len(a)), range(len(b))):
        iw = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
        ih = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
        union = (
            (a[i, 2] - a[i, 0]) * (a[i, 3] - a[i, 1])
            + (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1])
            - iw * ih
        )
        c = (max(a[i, 2], b[j, 2]) - min(a[i, 0], b[j, 0])) * (
            max(a[i, 3], b[j, 3]) - min(a[i, 1], b[j, 1])
        )
        out[i, j] -= (c - union) / c
    return out


def test_iou_and_giou_match_a_float64_loop_and_keras():
    a, b = _random_boxes(7, 0), _random_boxes(5, 1)
    np.testing.assert_allclose(iou(a, b), _iou_loop(a, b), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(giou(a, b), _giou_loop(a, b), rtol=1e-12, atol=1e-12)
    keras_iou = keras.utils.bounding_boxes.compute_iou(
        a.astype(np.float32), b.astype(np.float32), "xyxy"
    )
    np.testing.assert_allclose(
        iou(a.astype(np.float32), b.astype(np.float32)), keras_iou, atol=1e-6
    )


@pytest.mark.parametrize("fmt", ["xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw"])
def test_conversions_match_keras_and_round_trip(fmt):
    boxes = _random_boxes(6, 2).astype(np.float32)
    ours = convert_boxes(boxes, "xyxy", fmt)
    theirs = keras.utils.bounding_boxes.convert_format(boxes, "xyxy", fmt)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(convert_boxes(ours, fmt, "xyxy"), boxes, atol=1e-4)
    relative = convert_boxes(ours, fmt, f"rel_{fmt}", height=120, width=80)
    np.testing.assert_allclose(
        convert_boxes(relative, f"rel_{fmt}", "xyxy", 120, 80), boxes, atol=1e-4
    )
    assert float(np.max(convert_boxes(boxes, "xyxy", "rel_xyxy", 100, 100))) <= 1.0 + 1e-6


def test_iou_in_another_format_equals_xyxy():
    a, b = _random_boxes(4, 3), _random_boxes(3, 4)
    expected = iou(a, b)
    for fmt in ("yxyx", "xywh", "center_xywh"):
        np.testing.assert_allclose(
            iou(convert_boxes(a, "xyxy", fmt), convert_boxes(b, "xyxy", fmt), fmt),
            expected,
            atol=1e-12,
        )


box = st.tuples(st.floats(0, 90), st.floats(0, 90), st.floats(0.5, 60), st.floats(0.5, 60)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]]
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(box, min_size=1, max_size=6), st.lists(box, min_size=1, max_size=6))
def test_iou_properties(first, second):
    a, b = np.array(first), np.array(second)
    overlap = iou(a, b).numpy()
    assert np.all((overlap >= 0) & (overlap <= 1 + 1e-12))
    np.testing.assert_allclose(overlap, iou(b, a).numpy().T, atol=1e-12)  # symmetric
    np.testing.assert_allclose(np.diag(iou(a, a).numpy()), 1.0, atol=1e-12)
    generalised = giou(a, b).numpy()
    assert np.all((generalised >= -1 - 1e-12) & (generalised <= overlap + 1e-12))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.lists(box, min_size=1, max_size=5),
    st.lists(box, min_size=1, max_size=5),
    st.sampled_from([(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]),
)
def test_box_coding_round_trips(boxes, anchors, weights):
    n = min(len(boxes), len(anchors))
    b, a = np.array(boxes[:n]), np.array(anchors[:n])
    deltas = encode_boxes(b, a, weights)
    decoded = decode_boxes(deltas, a, weights, max_log_scale=float("inf"))
    np.testing.assert_allclose(decoded, b, rtol=1e-9, atol=1e-9)


def test_box_coding_formula():
    anchor = np.array([[0.0, 0.0, 10.0, 20.0]])  # centre (5, 10), size 10 x 20
    target = np.array([[2.0, 4.0, 22.0, 24.0]])  # centre (12, 14), size 20 x 20
    np.testing.assert_allclose(
        encode_boxes(target, anchor), [[0.7, 0.2, np.log(2.0), 0.0]], atol=1e-12
    )


def test_decoding_caps_the_scale_of_wild_predictions():
    anchor = np.array([[0.0, 0.0, 10.0, 10.0]])
    decoded = decode_boxes(np.array([[0.0, 0.0, 50.0, 50.0]]), anchor).numpy()
    assert np.all(np.isfinite(decoded))
    np.testing.assert_allclose(decoded[0, 2] - decoded[0, 0], 10 * np.exp(4.135), rtol=1e-9)


def test_clipping_and_bad_input():
    clipped = clip_boxes(np.array([[-5.0, 3.0, 50.0, 80.0]]), height=60, width=40)
    np.testing.assert_array_equal(clipped, [[0.0, 3.0, 40.0, 60.0]])
    with pytest.raises(ValueError, match="source must be one of"):
        convert_boxes(np.zeros((1, 4)), "ltrb", "xyxy")
    with pytest.raises(ValueError, match="height and width"):
        convert_boxes(np.zeros((1, 4)), "rel_xyxy", "xyxy")
    with pytest.raises(ValueError, match=r"\[..., 4\]"):
        convert_boxes(np.zeros((2, 3)), "xyxy", "xywh")
    assert len(ALL_FORMATS) == 10
    assert (
        float(iou(np.array([[1.0, 1.0, 1.0, 1.0]]), np.array([[1.0, 1.0, 1.0, 1.0]]))[0, 0]) == 0.0
    )


HALF = ["float16", "bfloat16"]


@pytest.mark.parametrize("dtype", HALF)
def test_iou_and_giou_of_large_half_precision_boxes_are_computed_in_float32(dtype):
    # areas of 200 x 200 and 900 x 700 boxes add up past float16's 65504; all corners exact
    for boxes in ([[0, 0, 200, 200], [0, 0, 200, 180]], [[0, 0, 900, 700], [16, 0, 900, 640]]):
        a = np.array(boxes, np.float64)
        half = tf.constant(a, dtype)
        overlap, generalised = iou(half, half), giou(half, half)
        assert overlap.dtype == tf.float32 and generalised.dtype == tf.float32
        np.testing.assert_allclose(overlap, _iou_loop(a, a), rtol=1e-6)
        np.testing.assert_allclose(generalised, _giou_loop(a, a), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(iou(half, half)[0, 1], 884 * 640 / (900 * 700), rtol=1e-6)


def _encode_formula(boxes, anchors, weights):
    """Float64 reference: R-CNN box coding from the centres and sizes."""
    size, anchor_size = boxes[:, 2:] - boxes[:, :2], anchors[:, 2:] - anchors[:, :2]
    centre = boxes[:, :2] + size / 2
    anchor_centre = anchors[:, :2] + anchor_size / 2
    w = np.array(weights)
    return np.concatenate(
        [w[:2] * (centre - anchor_centre) / anchor_size, w[2:] * np.log(size / anchor_size)], 1
    )


@pytest.mark.parametrize("dtype", HALF)
def test_box_coding_of_half_precision_boxes_does_not_overflow_and_keeps_the_dtype(dtype):
    def rounded(x):  # the values the half-precision tensor holds, and the tensor
        half = tf.constant(x, dtype)
        return tf.cast(half, tf.float64).numpy(), half

    tolerance = {"float16": 2e-3, "bfloat16": 1e-2}[dtype]
    # wx (x - xa) = 10 * 6800 overflows float16, the result (340) does not
    boxes, half_boxes = rounded([[6800.0, 6800.0, 7000.0, 7000.0], [100.0, 60.0, 1300.0, 900.0]])
    anchors, half_anchors = rounded([[0.0, 0.0, 200.0, 200.0], [0.0, 0.0, 1024.0, 1024.0]])
    weights = (10.0, 10.0, 5.0, 5.0)
    deltas = encode_boxes(half_boxes, half_anchors, weights)
    assert deltas.dtype == dtype
    expected = _encode_formula(boxes, anchors, weights)
    np.testing.assert_allclose(tf.cast(deltas, tf.float64), expected, rtol=tolerance, atol=1e-2)
    # a width exp(dw) wa = 60 * 1200 past 65504 whose corners, +-36000, are not
    anchor, half_anchor = rounded([[-600.0, -600.0, 600.0, 600.0]])
    delta, half_delta = rounded([[0.0, 0.0, np.log(60.0), np.log(60.0)]])
    decoded = decode_boxes(half_delta, half_anchor)
    assert decoded.dtype == dtype
    half_width = np.exp(delta[0, 2]) * (anchor[0, 2] - anchor[0, 0]) / 2
    np.testing.assert_allclose(
        tf.cast(decoded, tf.float64),
        [[-half_width, -half_width, half_width, half_width]],
        rtol=tolerance,
    )
