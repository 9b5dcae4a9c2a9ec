import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from yeehaw_tf.ops import batched_nms, iou, nms, soft_nms


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
