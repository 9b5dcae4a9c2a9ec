"""Faster R-CNN (with and without FPN) and Mask R-CNN: published parameter counts, the RPN's
proposals and the second stage's sampling and losses against float64 NumPy transcriptions of
the papers' (torchvision's) rules, masks, and serialisation."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.detection import non_batch_norm_weights, np_iou
from yeehaw_tf.models import build, get_detector
from yeehaw_tf.models.detection.anchor_generator import AnchorGenerator
from yeehaw_tf.models.detection.mask_head import mask_loss, mask_targets, paste_masks
from yeehaw_tf.models.detection.postprocess import PostProcessor
from yeehaw_tf.models.detection.roi_heads import RoIHeadsConfig, roi_heads_loss, sample_rois
from yeehaw_tf.models.detection.rpn import RPNConfig, propose, rpn_loss
from yeehaw_tf.ops.matching import sample_balanced_batch
from yeehaw_tf.training.randomness import StepRandomness


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, expected",
    # torchvision.models.detection.{fasterrcnn,maskrcnn}_resnet50_fpn(num_classes=91) -- 91
    # counts the background, our num_classes does not -- without the frozen batch norm buffers
    [("fasterrcnn_resnet50_fpn", 41_755_286), ("maskrcnn_resnet50_fpn", 44_401_393)],
)
def test_resnet50_fpn_variants_have_torchvisions_parameter_counts(name, expected):
    model = build(name, num_classes=90, input_shape=(128, 128, 3))
    assert non_batch_norm_weights(model) == expected


# --- float64 references ------------------------------------------------------------------


def np_decode(deltas, anchors, weights):
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xa, ya = anchors[:, 0] + wa / 2, anchors[:, 1] + ha / 2
    dx, dy, dw, dh = (deltas[:, i] / weights[i] for i in range(4))
    dw, dh = np.minimum(dw, math.log(1000 / 16)), np.minimum(dh, math.log(1000 / 16))
    x, y, w, h = dx * wa + xa, dy * ha + ya, np.exp(dw) * wa, np.exp(dh) * ha
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], 1)


def np_encode(boxes, anchors, weights):
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xa, ya = anchors[:, 0] + wa / 2, anchors[:, 1] + ha / 2
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    x, y = boxes[:, 0] + w / 2, boxes[:, 1] + h / 2
    return np.stack(
        [
            weights[0] * (x - xa) / wa,
            weights[1] * (y - ya) / ha,
            weights[2] * np.log(w / wa),
            weights[3] * np.log(h / ha),
        ],
        1,
    )


def np_nms(boxes, scores, threshold):
    order, keep = list(np.argsort(-scores, kind="stable")), []
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [j for j in order if np_iou(boxes[i : i + 1], boxes[j : j + 1])[0, 0] <= threshold]
    return keep


def np_smooth_l1(x, beta):
    x = np.abs(x)
    return np.where(x < beta, 0.5 * x * x / beta, x - 0.5 * beta)


# --- the RPN --------------------------------------------------------------------------------


def test_proposals_follow_torchvisions_rules():
    """Per level the top-n anchors, decoded and clipped, small boxes dropped, NMS per level,
    then the best post-n of all levels."""
    config = RPNConfig(
        anchors=AnchorGenerator(levels=(2, 3), sizes=(8, 16), scales=(1.0,)),
        pre_nms_top_n_test=40,
        post_nms_top_n_test=30,
        min_size=2.0,
    )
    h = w = 32
    anchors = config.anchors(h, w)
    n = anchors.shape[0]  # 8*8*3 + 4*4*3 = 240
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (2, n)).astype(np.float32)
    deltas = rng.normal(0, 0.5, (2, n, 4)).astype(np.float32)
    boxes, scores, valid = propose(logits, deltas, anchors, config, h, w, training=False)
    a = anchors.numpy().astype(np.float64)
    for i in range(2):
        candidates, cand_scores, levels = [], [], []
        for level, (start, stop) in enumerate([(0, 192), (192, 240)]):
            top = np.argsort(-logits[i, start:stop], kind="stable")[:40] + start
            decoded = np_decode(deltas[i, top].astype(np.float64), a[top], (1, 1, 1, 1))
            decoded = np.clip(decoded, 0, [w, h, w, h])
            big = np.all(decoded[:, 2:] - decoded[:, :2] >= 2.0, axis=1)
            candidates.append(decoded[big])
            cand_scores.append(1 / (1 + np.exp(-logits[i, top][big].astype(np.float64))))
            levels.append(np.full(big.sum(), level))
        candidates = np.concatenate(candidates)
        cand_scores = np.concatenate(cand_scores)
        levels = np.concatenate(levels)
        keep = []
        for level in (0, 1):
            index = np.nonzero(levels == level)[0]
            keep += list(index[np_nms(candidates[index], cand_scores[index], 0.7)])
        keep = sorted(keep, key=lambda j: -cand_scores[j])[:30]
        count = int(valid[i].numpy().sum())
        assert count == len(keep)
        np.testing.assert_allclose(boxes[i, :count].numpy(), candidates[keep], atol=1e-4)
        np.testing.assert_allclose(scores[i, :count].numpy(), cand_scores[keep], atol=1e-6)
        assert np.all(boxes[i, count:].numpy() == 0)


def test_balanced_sampling_respects_the_quota_and_fills_with_negatives():
    positive = np.zeros((3, 50), bool)
    positive[0, :30] = True  # more positives than the quota
    positive[1, :3] = True  # fewer: negatives fill the rest
    negative = ~positive
    negative[2] = False  # nothing to sample
    noise = np.random.default_rng(1).uniform(size=(3, 50))
    pos, neg = sample_balanced_batch(positive, negative, 16, 0.25, noise)
    pos, neg = pos.numpy(), neg.numpy()
    assert pos.sum(1).tolist() == [4, 3, 0] and neg.sum(1).tolist() == [12, 13, 0]
    assert not (pos & ~positive).any() and not (neg & ~negative).any()
    # the chosen positives are those with the smallest noise: a uniform random subset
    assert set(np.nonzero(pos[0])[0]) == set(np.argsort(noise[0, :30])[:4])


def test_rpn_loss_matches_a_float64_reference():
    rng = np.random.default_rng(2)
    anchors = np.array([[0, 0, 10, 10], [5, 5, 20, 20], [30, 30, 40, 44]], np.float32)
    matched = np.array([[[1, 1, 11, 12], [4, 6, 22, 19], [0, 0, 0, 0]]], np.float32)
    positive = np.array([[True, True, False]])
    negative = np.array([[False, False, True]])
    logits = rng.normal(size=(1, 3)).astype(np.float32)
    deltas = rng.normal(0, 0.1, (1, 3, 4)).astype(np.float32)
    config = RPNConfig()
    cls, box = rpn_loss(logits, deltas, tf.constant(anchors), matched, positive, negative, config)
    labels = positive[0].astype(np.float64)
    x = logits[0].astype(np.float64)
    bce = np.maximum(x, 0) - x * labels + np.log1p(np.exp(-np.abs(x)))
    targets = np_encode(matched[0, :2].astype(np.float64), anchors[:2].astype(np.float64), (1,) * 4)
    expected_box = np_smooth_l1(deltas[0, :2] - targets, 1 / 9).sum() / 3
    assert float(cls) == pytest.approx(bce.sum() / 3, rel=1e-5)
    assert float(box) == pytest.approx(expected_box, rel=1e-4)


# --- the second stage -------------------------------------------------------------------------


def test_roi_sampling_labels_and_orders_the_rois():
    config = RoIHeadsConfig(batch_per_image=8, positive_fraction=0.25, negative_min_iou=0.1)
    gt = np.array([[[10, 10, 30, 30], [0, 0, 0, 0]]], np.float32)
    classes = np.array([[2, -1]], np.int32)
    proposals = np.array(
        [[[11, 11, 30, 31], [10, 12, 29, 30], [20, 20, 40, 40], [50, 50, 60, 60], [0, 0, 12, 12]]],
        np.float32,
    )
    valid = np.array([[True, True, True, True, False]])
    noise = np.random.default_rng(3).uniform(size=(1, 7)).astype(np.float32)
    sample = {
        k: v.numpy() for k, v in sample_rois(proposals, valid, gt, classes, noise, config).items()
    }
    candidates = np.concatenate([proposals[0], gt[0]])
    overlaps = np_iou(candidates, gt[0, :1])[:, 0]
    ok = np.concatenate([valid[0], [True, False]])
    fg = np.nonzero(ok & (overlaps >= 0.5))[0]  # two proposals and the gt itself
    bg = np.nonzero(ok & (overlaps < 0.5) & (overlaps >= 0.1))[0]  # the third proposal
    assert len(fg) == 3 and len(bg) == 1
    weights, labels = sample["weights"][0], sample["labels"][0]
    assert weights.sum() == 2 + 1  # quota of 2 positives, then the only negative
    assert labels[:2].tolist() == [3, 3] and labels[2] == 0
    assert sample["rois"].shape == (1, 7, 4) and np.all(weights[3:] == 0)
    rois = sample["rois"][0]
    assert np_iou(rois[:2], gt[0, :1]).min() >= 0.5
    np.testing.assert_array_equal(sample["matched_boxes"][0, :2], np.repeat(gt[0, :1], 2, 0))


def test_roi_heads_loss_matches_a_float64_reference():
    config = RoIHeadsConfig()
    rng = np.random.default_rng(4)
    rois = np.array([[[0, 0, 10, 10], [5, 5, 25, 20], [30, 30, 40, 40]]], np.float32)
    matched = np.array([[[1, 0, 11, 12], [4, 6, 22, 21], [0, 0, 1, 1]]], np.float32)
    sample = {
        "rois": tf.constant(rois),
        "matched_boxes": tf.constant(matched),
        "labels": tf.constant([[2, 1, 0]]),
        "weights": tf.constant([[1.0, 1.0, 1.0]]),
    }
    logits = rng.normal(size=(1, 3, 4)).astype(np.float32)
    deltas = rng.normal(0, 0.5, (1, 3, 4, 4)).astype(np.float32)
    cls, box = roi_heads_loss(logits, deltas, sample, config)
    x = logits[0].astype(np.float64)
    log_softmax = x - np.log(np.exp(x).sum(1, keepdims=True))
    expected_cls = -log_softmax[np.arange(3), [2, 1, 0]].sum() / 3
    targets = np_encode(
        matched[0, :2].astype(np.float64), rois[0, :2].astype(np.float64), (10, 10, 5, 5)
    )
    own = deltas[0, [0, 1], [2, 1]]
    expected_box = np_smooth_l1(own - targets, 1 / 9).sum() / 3
    assert float(cls) == pytest.approx(expected_cls, rel=1e-5)
    assert float(box) == pytest.approx(expected_box, rel=1e-4)


# --- masks ----------------------------------------------------------------------------------------


def test_mask_targets_crop_the_matched_mask_and_paste_back():
    mask = np.zeros((1, 2, 32, 32), np.uint8)
    mask[0, 1, 8:24, 4:20] = 1  # object 1: a 16 x 16 square
    rois = tf.constant(
        [[[4.0, 8.0, 20.0, 24.0], [4.0, 8.0, 12.0, 16.0]]]
    )  # exact; top-left quarter
    targets = mask_targets(mask, rois, tf.constant([[1, 1]]), 28).numpy()
    # bilinear samples: 1 inside, softened within half a pixel of the mask's edges, the same
    # on every side (pixel i covers [i, i + 1), as the boxes say: no half-pixel shift)
    square = targets[0, 0]
    np.testing.assert_allclose(square[2:-2, 2:-2], 1.0)
    np.testing.assert_allclose(square, square[::-1, ::-1], atol=1e-5)
    np.testing.assert_allclose(square, square.T, atol=1e-5)
    assert square.min() > 0.5
    np.testing.assert_allclose(targets[0, 1][2:, 2:], 1.0)  # a quarter inside the mask
    pasted = paste_masks(targets[0, :1], rois[0, :1].numpy(), 32, 32)
    np.testing.assert_array_equal(pasted[0], mask[0, 1].astype(bool))
    # a disc pasted back from its 28 x 28 crop keeps its shape (IoU with the original)
    yy, xx = np.mgrid[:32, :32]
    disc = ((yy - 15.5) ** 2 + (xx - 13.5) ** 2 <= 81).astype(np.uint8)[None, None]
    box = tf.constant([[[4.0, 6.0, 23.0, 25.0]]])
    crop = mask_targets(disc, box, tf.constant([[0]]), 28).numpy()[0]
    back = paste_masks(crop, box[0].numpy(), 32, 32)[0]
    inter = (back & disc[0, 0].astype(bool)).sum()
    assert inter / (back | disc[0, 0].astype(bool)).sum() > 0.95


def test_mask_loss_is_the_mean_bce_of_the_weighted_rois():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(1, 3, 4, 4)).astype(np.float32)
    targets = rng.uniform(size=(1, 3, 4, 4)).astype(np.float32)
    weights = np.array([[1.0, 0.0, 1.0]], np.float32)
    x, t = logits[0, [0, 2]].astype(np.float64), targets[0, [0, 2]].astype(np.float64)
    bce = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    assert float(mask_loss(logits, targets, weights)) == pytest.approx(bce.mean(), rel=1e-5)


# --- the assembled detectors ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["faster_rcnn", "faster_rcnn_fpn", "mask_rcnn"])
def test_small_variants_train_every_weight_and_detect(name):
    family = get_detector(name)
    network = family.build(3, (64, 64, 3))
    images = tf.random.uniform([2, 64, 64, 3], seed=1)
    gt = tf.constant(
        [[[10, 10, 30, 30], [0, 0, 0, 0]], [[5, 5, 20, 40], [40, 40, 60, 60]]], tf.float32
    )
    classes = tf.constant([[0, -1], [1, 2]])
    masks = np.zeros((2, 2, 64, 64), np.uint8)
    masks[0, 0, 10:30, 10:30] = masks[1, 0, 5:40, 5:20] = masks[1, 1, 40:60, 40:60] = 1
    with tf.GradientTape() as tape:
        outputs = family.forward(network, images, gt, classes, masks, StepRandomness(0, 1), True)
        total, components, images_count = family.loss(outputs, gt, classes, None)
    grads = tape.gradient(total, network.trainable_variables)
    assert set(components) == set(family.loss_names) and float(images_count) == 2
    assert all(g is not None for g in grads), "a weight gets no gradient"
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    found = family.detect(network, outputs, PostProcessor(max_detections=10))
    assert found["boxes"].shape == (2, 10, 4) and found["num_detections"].shape == (2,)
    if family.uses_masks:
        assert found["masks"].shape == (2, 10, 28, 28)


def test_an_image_without_objects_has_a_finite_loss_and_gradient():
    family = get_detector("mask_rcnn")
    network = family.build(3, (64, 64, 3))
    gt, classes = tf.zeros([1, 3, 4]), -tf.ones([1, 3], tf.int32)
    with tf.GradientTape() as tape:
        outputs = family.forward(
            network,
            tf.zeros([1, 64, 64, 3]),
            gt,
            classes,
            np.zeros((1, 3, 64, 64), np.uint8),
            StepRandomness(0, 1),
            True,
        )
        total, components, _ = family.loss(outputs, gt, classes, None)
    grads = tape.gradient(total, network.trainable_variables)
    assert np.isfinite(float(total)) and float(components["mask"]) == 0.0
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)


def test_the_network_saves_and_loads_with_safe_mode(tmp_path):
    network = get_detector("mask_rcnn").build(3, (64, 64, 3))
    images = tf.random.uniform([1, 64, 64, 3], seed=2)
    path = str(tmp_path / "mask_rcnn.keras")
    network.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    before, after = network(images), loaded(images)
    for key in before:
        np.testing.assert_allclose(after[key].numpy(), before[key].numpy(), atol=1e-5)


def test_bad_configs_get_errors_naming_the_argument():
    from yeehaw_tf.models.detection.faster_rcnn import FasterRCNNConfig

    with pytest.raises(ValueError, match="without FPN give one level"):
        FasterRCNNConfig(levels=(3, 4), fpn=False)
    with pytest.raises(ValueError, match="negative_iou"):
        RPNConfig(positive_iou=0.3, negative_iou=0.7)
    with pytest.raises(ValueError, match="num_classes"):
        get_detector("faster_rcnn").build(0, (64, 64, 3))


def test_a_degenerate_background_roi_keeps_the_loss_finite():
    """A proposal clipped to zero width at the image border, sampled as background."""
    sample = {
        "rois": tf.constant([[[64.0, 10.0, 64.0, 30.0], [0.0, 0.0, 10.0, 10.0]]]),
        "matched_boxes": tf.constant([[[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]]]),
        "labels": tf.constant([[0, 1]]),
        "weights": tf.constant([[1.0, 1.0]]),
    }
    cls, box = roi_heads_loss(tf.zeros([1, 2, 2]), tf.zeros([1, 2, 2, 4]), sample, RoIHeadsConfig())
    assert np.isfinite(float(cls)) and float(box) == 0.0
