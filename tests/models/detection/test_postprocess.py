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


def _tied_chain():
    """Six boxes of one class with exactly equal scores, in overlapping pairs chained along x
    by 2.5 px (IoU 7.5 / 12.5 = 0.6 with a neighbour, 1/3 with the next but one): which
    survive NMS depends only on how the tie is broken."""
    boxes = np.array([[2.5 * i, 0.0, 2.5 * i + 10.0, 10.0] for i in range(6)], np.float32)
    boxes = np.concatenate([boxes[1::2], boxes[0::2]])  # the lowest indices: the odd boxes
    scores = np.full((len(boxes), 1), 0.75, np.float32)
    return boxes, scores


def test_exact_ties_keep_the_lowest_index_as_the_stable_reference_does(tmp_path):
    """Ties are broken in index order in TensorFlow and in the TFLite file alike (TFLite's NMS
    sorts unstably: without the tie-breaking ranks its selection differed)."""
    import os

    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    boxes, scores = _tied_chain()
    post = PostProcessor(score_threshold=0.05, iou_threshold=0.5, max_detections=6)
    ref_boxes, ref_scores, _ = _reference(boxes, scores, 64, 0.05, 0.5, 6, 1000)
    want = ref_boxes[:, [1, 0, 3, 2]] / 64
    out = {k: np.asarray(v) for k, v in post(boxes[None], scores[None], 64, 64).items()}
    count = int(out["num_detections"][0])
    assert count == len(want) == 3
    np.testing.assert_allclose(out["boxes"][0, :count], want, atol=1e-6)
    np.testing.assert_array_equal(out["scores"][0, :count], ref_scores)  # scores unchanged

    module = tf.Module()
    module.serve = tf.function(
        lambda b, s: post(b, s, 64, 64),
        input_signature=[tf.TensorSpec([1, 6, 4]), tf.TensorSpec([1, 6, 1])],
    )
    path = os.path.join(str(tmp_path), "saved_model")
    tf.saved_model.save(module, path, signatures=module.serve.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_saved_model(path)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    runner = Interpreter(model_content=converter.convert()).get_signature_runner()
    lite = runner(b=boxes[None], s=scores[None])
    assert int(lite["num_detections"][0]) == 3
    np.testing.assert_allclose(lite["boxes"][0, :3], want, atol=1e-6)
