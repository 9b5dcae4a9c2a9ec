import os
import sys

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from hypothesis import given, settings
from hypothesis import strategies as st

from yeehaw_tf.ops import batched_nms, iou, nms, soft_nms

nms_module = sys.modules["yeehaw_tf.ops.nms"]  # the package exports the function as ``nms``


def _data(n, seed, size=50.0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(2, 20, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32), rng.uniform(0, 1, n).astype(
        np.float32
    )


def _nms_loop(boxes, scores, threshold, score_threshold=-np.inf):
    """Float64 reference from the definition."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    overlaps = iou(boxes.astype(np.float64), boxes.astype(np.float64)).numpy()
    kept = []
    for i in order:
        if scores[i] <= score_threshold:
            continue
        if all(overlaps[i, j] <= threshold for j in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed, threshold", [(0, 0.5), (1, 0.3), (2, 0.7), (3, 0.0)])
def test_matches_tf_image_non_max_suppression_and_a_loop(seed, threshold):
    boxes, scores = _data(60, seed)
    ours = nms(boxes, scores, threshold, max_outputs=60).numpy()
    theirs = tf.image.non_max_suppression(boxes[:, [1, 0, 3, 2]], scores, 60, threshold).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert list(ours) == _nms_loop(boxes, scores, threshold)


def test_score_threshold_max_outputs_and_padding():
    boxes, scores = _data(40, 5)
    kept = nms(boxes, scores, 0.5, score_threshold=0.6, max_outputs=5).numpy()
    theirs = tf.image.non_max_suppression(boxes[:, [1, 0, 3, 2]], scores, 5, 0.5, 0.6).numpy()
    np.testing.assert_array_equal(kept, theirs)
    padded, count = nms(boxes, scores, 0.5, score_threshold=0.6, max_outputs=30, padded=True)
    assert padded.shape == (30,) and int(count) == len(_nms_loop(boxes, scores, 0.5, 0.6))
    assert np.all(padded.numpy()[int(count) :] == -1)


def _detections(n, seed, objects=40, size=1024.0):
    """Boxes clustered around ``objects`` objects, like a detector's output before NMS, with
    tied scores and exact duplicates."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, size, (objects, 2))
    sizes = np.exp(rng.uniform(np.log(16), np.log(256), (objects, 2)))
    k = rng.integers(0, objects, n)
    centre = centres[k] + rng.normal(0, 0.15, (n, 2)) * sizes[k]
    half = sizes[k] * np.exp(rng.normal(0, 0.15, (n, 2))) / 2
    boxes = np.concatenate([centre - half, centre + half], 1).astype(np.float32)
    boxes[n // 2 : n // 2 + 20] = boxes[:20]
    return boxes, (rng.integers(0, 500, n) / 500).astype(np.float32)


def _tf_nms(boxes, scores, max_outputs, threshold, score_threshold=float("-inf")):
    yxyx = boxes[:, [1, 0, 3, 2]]
    return tf.image.non_max_suppression(yxyx, scores, max_outputs, threshold, score_threshold)


@pytest.mark.parametrize(
    "threshold, max_outputs, score_threshold",
    [(0.5, 100, float("-inf")), (0.5, 3000, float("-inf")), (0.3, 1000, 0.2), (0.7, 300, 0.0)],
)
def test_3000_boxes_match_tf_image_non_max_suppression(threshold, max_outputs, score_threshold):
    boxes, scores = _detections(3000, seed=max_outputs)
    ours = tf.function(nms)(boxes, scores, threshold, score_threshold, max_outputs).numpy()
    theirs = _tf_nms(boxes, scores, max_outputs, threshold, score_threshold).numpy()
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("tile", [3, 16])
def test_many_small_tiles_match_tf_image_non_max_suppression(tile, monkeypatch):
    monkeypatch.setattr(nms_module, "TILE", tile)
    for seed in range(3):
        boxes, scores = _detections(200, seed, objects=10)
        for threshold, max_outputs in [(0.5, 200), (0.0, 7), (1.0, 150), (0.6, 1)]:
            theirs = _tf_nms(boxes, scores, max_outputs, threshold).numpy()
            ours, count = nms(boxes, scores, threshold, max_outputs=max_outputs, padded=True)
            np.testing.assert_array_equal(ours[:count], theirs)
            assert np.all(ours.numpy()[int(count) :] == -1)


def test_stops_at_max_outputs_and_never_builds_an_n_by_n_block(monkeypatch):
    shapes = []

    def recording_iou(a, b):
        shapes.append((int(tf.shape(a)[0]), int(tf.shape(b)[0])))
        return iou(a, b)

    monkeypatch.setattr(nms_module, "iou", recording_iou)
    boxes, scores = _detections(3000, 0)
    rank = np.argsort(np.argsort(-scores, kind="stable"), kind="stable")  # sorted position
    expected = _tf_nms(boxes, scores, 100, 0.5).numpy()
    np.testing.assert_array_equal(nms(boxes, scores, 0.5, max_outputs=100), expected)  # eager
    tile = 128  # the tile for max_outputs = 100
    tiles = rank[expected[-1]] // tile + 1  # up to the one where the 100th kept box is
    assert tiles < 3000 / tile and len(shapes) == 2 * tiles  # per tile: vs kept, within
    assert max(a * b for a, b in shapes) <= tile * tile
    shapes.clear()
    expected = _tf_nms(boxes, scores, 3000, 0.5).numpy()
    np.testing.assert_array_equal(nms(boxes, scores, 0.5, max_outputs=3000), expected)
    assert len(shapes) == 2 * 6  # every 512-box tile, each against at most the kept boxes
    assert max(a * b for a, b in shapes) <= 512 * max(512, len(expected))


def test_padded_nms_converts_to_builtin_tflite_ops(tmp_path):
    boxes, scores = _detections(300, 1, objects=20)  # 214 above 0.3, 69 kept: two tiles

    class Detector(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4]), tf.TensorSpec([None])])
        def __call__(self, boxes, scores):
            kept, count = nms(boxes, scores, 0.5, score_threshold=0.3, max_outputs=100, padded=True)
            return {"kept": kept, "count": count}

    path = os.path.join(str(tmp_path), "saved_model")
    module = Detector()
    tf.saved_model.save(module, path, signatures=module.__call__)
    converter = tf.lite.TFLiteConverter.from_saved_model(path)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    runner = Interpreter(model_content=converter.convert()).get_signature_runner()
    for n in (300, 40):  # two 128-box tiles; one tile, partly filled
        theirs = _tf_nms(boxes[:n], scores[:n], 100, 0.5, 0.3).numpy()
        got = runner(boxes=boxes[:n], scores=scores[:n])
        assert int(got["count"]) == len(theirs)
        np.testing.assert_array_equal(got["kept"][: len(theirs)], theirs)
        assert np.all(got["kept"][len(theirs) :] == -1)


box = st.tuples(st.floats(0, 40), st.floats(0, 40), st.floats(1, 20), st.floats(1, 20)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]]
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.lists(st.tuples(box, st.floats(0, 1), st.integers(0, 2)), min_size=1, max_size=25),
    st.floats(0.1, 0.9),
)
def test_kept_boxes_never_overlap_above_the_threshold(items, threshold):
    boxes = np.array([b for b, _, _ in items], np.float32)
    scores = np.array([s for _, s, _ in items], np.float32)
    classes = np.array([c for _, _, c in items])
    kept = nms(boxes, scores, threshold, max_outputs=25).numpy()
    assert len(set(kept)) == len(kept) and set(kept) <= set(range(len(items)))
    overlap = iou(boxes[kept], boxes[kept]).numpy() - np.eye(len(kept))
    assert np.all(overlap <= threshold + 1e-6)
    per_class = batched_nms(boxes, scores, classes, threshold, max_outputs=25).numpy()
    for c in range(3):
        members = [i for i in per_class if classes[i] == c]
        expected = [i for i in _nms_loop(boxes[classes == c], scores[classes == c], threshold)]
        assert members == list(np.flatnonzero(classes == c)[expected])


def _soft_nms_loop(boxes, scores, sigma, threshold, max_outputs):
    overlaps = iou(boxes.astype(np.float64), boxes.astype(np.float64)).numpy()
    current = scores.astype(np.float64).copy()
    active = np.ones(len(scores), bool)
    picked, values = [], []
    while len(picked) < max_outputs and active.any():
        i = int(np.argmax(np.where(active, current, -np.inf)))
        if current[i] <= threshold:
            break
        picked.append(i)
        values.append(current[i])
        active[i] = False
        current = np.where(active, current * np.exp(-(overlaps[i] ** 2) / sigma), current)
    return picked, values


def test_soft_nms_matches_a_loop_and_keeps_overlapping_boxes_with_lower_scores():
    boxes, scores = _data(30, 7)
    indices, rescored = soft_nms(boxes, scores, sigma=0.5, score_threshold=0.05, max_outputs=30)
    picked, values = _soft_nms_loop(boxes, scores, 0.5, 0.05, 30)
    assert list(indices.numpy()) == picked
    np.testing.assert_allclose(rescored, values, rtol=1e-5)
    assert len(picked) >= len(nms(boxes, scores, 0.5, max_outputs=30))


def test_soft_nms_on_3000_boxes_matches_a_loop():
    boxes, _ = _detections(3000, 4)
    scores = np.random.default_rng(4).uniform(0, 1, 3000).astype(np.float32)
    indices, rescored = tf.function(soft_nms)(boxes, scores, 0.5, 0.05, 200)
    picked, values = _soft_nms_loop(boxes, scores, 0.5, 0.05, 200)
    assert list(indices.numpy()) == picked
    np.testing.assert_allclose(rescored, values, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"iou_threshold": 1.5}, "iou_threshold"), ({"max_outputs": 0}, "max_outputs")],
)
def test_bad_arguments_are_named(kwargs, match):
    boxes, scores = _data(3, 0)
    with pytest.raises(ValueError, match=match):
        nms(boxes, scores, **kwargs)
    with pytest.raises(ValueError, match="boxes must have shape"):
        nms(boxes[:, :3], scores)


def test_boxes_with_swapped_corners_are_the_same_boxes_as_for_tensorflow():
    boxes, scores = _data(80, 11)
    flipped = boxes.copy()
    flipped[::3] = flipped[::3][:, [2, 3, 0, 1]]  # every third box given corner-swapped
    ours = nms(flipped, scores, 0.4, max_outputs=80).numpy()
    theirs = tf.image.non_max_suppression(flipped[:, [1, 0, 3, 2]], scores, 80, 0.4).numpy()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, nms(boxes, scores, 0.4, max_outputs=80).numpy())


def _large_half_precision_detections(n, seed):
    """Float16 detections on a 2048-pixel image, boxes of 25 to 670 pixels (a quarter of them
    with areas past half float16's 65504), and float32 copies of the very same values."""
    boxes, scores = _detections(n, seed)
    boxes = boxes * 2
    half_boxes, half_scores = boxes.astype(np.float16), scores.astype(np.float16)
    return half_boxes, half_scores, half_boxes.astype(np.float32), half_scores.astype(np.float32)


@pytest.mark.parametrize("threshold, score_threshold", [(0.5, float("-inf")), (0.3, 0.2)])
def test_float16_boxes_are_suppressed_as_their_float32_copies(threshold, score_threshold):
    boxes, scores, boxes32, scores32 = _large_half_precision_detections(600, 3)
    ours = nms(boxes, scores, threshold, score_threshold, max_outputs=600).numpy()
    theirs = _tf_nms(boxes32, scores32, 600, threshold, score_threshold).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert len(ours) < 300  # most boxes suppressed
    classes = np.random.default_rng(3).integers(0, 3, len(scores))
    per_class = batched_nms(boxes, scores, classes, threshold, score_threshold, 600).numpy()
    for c in range(3):  # each class as tf.image.non_max_suppression on that class alone
        members = np.flatnonzero(classes == c)
        kept = _tf_nms(boxes32[members], scores32[members], 600, threshold, score_threshold)
        assert [i for i in per_class if classes[i] == c] == list(members[kept.numpy()])


def test_soft_nms_of_float16_boxes_is_finite_and_matches_float32_and_a_loop():
    boxes, scores, boxes32, scores32 = _large_half_precision_detections(400, 5)
    indices, rescored = soft_nms(boxes, scores, 0.5, 0.05, max_outputs=100)
    assert rescored.dtype == tf.float16 and np.all(np.isfinite(rescored.numpy()))
    indices32, rescored32 = soft_nms(boxes32, scores32, 0.5, 0.05, max_outputs=100)
    np.testing.assert_array_equal(indices, indices32)
    np.testing.assert_allclose(rescored.numpy().astype(np.float32), rescored32, rtol=1e-3)
    picked, values = _soft_nms_loop(boxes32, scores32, 0.5, 0.05, 100)
    assert list(indices.numpy()) == picked
    np.testing.assert_allclose(rescored.numpy().astype(np.float64), values, rtol=1e-3)
