"""The shared post-processor against a NumPy reference: per-class greedy NMS (torchvision's
``batched_nms`` semantics) on the top-k (anchor, class) pairs, then the best ``K`` overall."""

import numpy as np
import pytest

from yeehaw_tf.models.detection.postprocess import PostProcessor


def _iou(box, boxes):
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod((rb - lt).clip(0), axis=1)
    area = lambda z: np.prod((z[..., 2:] - z[..., :2]).clip(0), axis=-1)  # noqa: E731
    return inter / (area(box) + area(boxes) - inter)


def _reference(boxes, scores, size, score_threshold, iou_threshold, keep, top_k):
    n, c = scores.shape
    flat = scores.reshape(-1)
    order = np.argsort(-flat, kind="stable")[:top_k]
    order = order[flat[order] > score_threshold]
    anchor, cls = order // c, order % c
    picked = boxes[anchor].clip(0, size)
    kept = []
    for k in np.unique(cls):
        idx = np.nonzero(cls == k)[0]  # already in descending score order
        alive = list(idx)
        while alive:
            best = alive.pop(0)
            kept.append(best)
            if alive:
                overlaps = _iou(picked[best], picked[alive])
                alive = [a for a, o in zip(alive, overlaps, strict=True) if o <= iou_threshold]
    kept = sorted(kept, key=lambda i: -flat[order[i]])[:keep]
    return picked[kept], flat[order[kept]], cls[kept]


@pytest.mark.parametrize("seed", [0, 1])
def test_detections_equal_per_class_greedy_nms(seed):
    rng = np.random.default_rng(seed)
    size, n, c = 64, 60, 3
    centres = rng.uniform(0, size, size=(n, 2))
    half = rng.uniform(3, 15, size=(n, 2))
    boxes = np.concatenate([centres - half, centres + half], 1).astype(np.float32)
    scores = rng.uniform(0, 1, size=(n, c)).astype(np.float32)
    post = PostProcessor(
        score_threshold=0.3, iou_threshold=0.5, max_detections=20, pre_nms_top_k=100
    )
    out = {k: np.asarray(v) for k, v in post(boxes[None], scores[None], size, size).items()}
    ref_boxes, ref_scores, ref_classes = _reference(boxes, scores, size, 0.3, 0.5, 20, 100)
    count = int(out["num_detections"][0])
    assert count == len(ref_scores)
    np.testing.assert_allclose(out["scores"][0, :count], ref_scores, rtol=1e-6)
    np.testing.assert_array_equal(out["classes"][0, :count], ref_classes)
    yxyx = ref_boxes[:, [1, 0, 3, 2]] / size
    np.testing.assert_allclose(out["boxes"][0, :count], yxyx, rtol=1e-5, atol=1e-6)
    assert np.all(out["scores"][0, count:] == 0) and np.all(out["boxes"][0, count:] == 0)
    assert np.all(out["classes"][0, count:] == 0)


def test_outputs_have_the_object_detection_api_dtypes_and_shapes():
    post = PostProcessor(max_detections=7)
    boxes = np.tile(np.array([[0, 0, 10, 10]], np.float32), (2, 5, 1))
    scores = np.zeros((2, 5, 4), np.float32)
    out = post(boxes, scores, 32, 32)
    assert out["boxes"].shape == (2, 7, 4) and out["boxes"].dtype.name == "float32"
    assert out["scores"].shape == (2, 7) and out["classes"].dtype.name == "int64"
    assert out["num_detections"].dtype.name == "int32"
    np.testing.assert_array_equal(np.asarray(out["num_detections"]), [0, 0])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="iou_threshold"):
        PostProcessor(iou_threshold=1.5)
    with pytest.raises(ValueError, match="max_detections"):
        PostProcessor(max_detections=0)
