"""SSD: published parameter count, torchvision's default boxes, hard negative mining, the loss's
targets and the decoding."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.models import build, get_detector
from yeehaw_tf.models.detection.ssd import SMALL, SSD, SSDConfig, hard_negative_mask
from yeehaw_tf.models.detection.ssd_parts import DefaultBoxGenerator, ScaledL2Normalization
from yeehaw_tf.ops import encode_boxes


def _torchvision_default_boxes(image_size, grid_sizes, aspect_ratios, scales, steps, clip=True):
    """A float64 NumPy transcription of torchvision's ``DefaultBoxGenerator`` (explicit
    ``scales`` and ``steps``), one box at a time: cx, cy, w, h relative, then xyxy pixels."""
    height, width = image_size
    boxes = []
    for k, (rows, cols) in enumerate(grid_sizes):
        s_k, s_next = scales[k], scales[k + 1]
        pairs = [[s_k, s_k], [math.sqrt(s_k * s_next)] * 2]
        for ar in aspect_ratios[k]:
            pairs += [[s_k * math.sqrt(ar), s_k / math.sqrt(ar)]]
            pairs += [[s_k / math.sqrt(ar), s_k * math.sqrt(ar)]]
        if clip:
            pairs = [[min(max(w, 0.0), 1.0), min(max(h, 0.0), 1.0)] for w, h in pairs]
        x_f, y_f = width / steps[k], height / steps[k]
        for j in range(rows):
            for i in range(cols):
                cx, cy = (i + 0.5) / x_f, (j + 0.5) / y_f
                for w, h in pairs:
                    boxes.append(
                        [
                            (cx - 0.5 * w) * width,
                            (cy - 0.5 * h) * height,
                            (cx + 0.5 * w) * width,
                            (cy + 0.5 * h) * height,
                        ]
                    )
    return np.asarray(boxes, np.float64)


@pytest.mark.slow
def test_ssd300_vgg16_has_torchvisions_parameter_count():
    # torchvision.models.detection.ssd300_vgg16(num_classes=91): 35,641,826 parameters; its
    # 91 counts the background, our num_classes does not, so the same tensors are ours at 90
    model = build("ssd300_vgg16", num_classes=90)
    assert model.count_params() == 35_641_826
    assert model.output["class_logits"].shape == (None, 8732, 91)


def test_ssd300_default_boxes_are_torchvisions():
    family = get_detector("ssd300_vgg16")
    anchors = family.anchors((300, 300, 3)).numpy()
    expected = _torchvision_default_boxes(
        (300, 300),
        [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
        [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
        [8, 16, 32, 64, 100, 300],
    )
    assert anchors.shape == (8732, 4) == expected.shape  # the paper's 8732 boxes
    np.testing.assert_allclose(anchors, expected, atol=1e-3)


def test_default_scales_are_the_papers_formula():
    # s_k = s_min + (s_max - s_min)(k - 1)/(m - 1), s_min 0.2, s_max 0.9, then 1.0 (torchvision)
    generator = DefaultBoxGenerator(aspect_ratios=[[2]] * 6)
    np.testing.assert_allclose(
        generator.box_scales(), [0.2, 0.34, 0.48, 0.62, 0.76, 0.9, 1.0], atol=1e-12
    )
    # steps None: centres at (i + 0.5) / f_k of the image
    boxes = generator(300, 300, [(2, 2)] * 6).numpy()
    assert boxes.shape == (6 * 4 * 4, 4)
    np.testing.assert_allclose(boxes[0], [75 - 30, 75 - 30, 75 + 30, 75 + 30], atol=1e-3)


def test_small_default_boxes_span_8_to_40_pixels():
    family = get_detector("ssd_small")
    anchors = family.anchors((64, 64, 3)).numpy()
    assert anchors.shape == ((256 + 64 + 16 + 4) * 4, 4)
    expected = _torchvision_default_boxes(
        (64, 64),
        [(16, 16), (8, 8), (4, 4), (2, 2)],
        [[2]] * 4,
        [8 / 64, 16 / 64, 24 / 64, 32 / 64, 40 / 64],
        [4, 8, 16, 32],
    )
    np.testing.assert_allclose(anchors, expected, atol=1e-4)
    sides = np.sqrt((anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1]))
    assert sides.min() == pytest.approx(8.0, abs=1e-3)
    assert sides.max() == pytest.approx(math.sqrt(32 * 40), abs=1e-3)


def test_hard_negative_mining_keeps_three_negatives_per_positive_with_the_highest_loss():
    rng = np.random.default_rng(0)
    losses = rng.uniform(0, 5, size=(4, 50))
    positive = np.zeros((4, 50), bool)
    positive[0, [1, 7, 30]] = True  # 3 positives: 9 negatives
    positive[1, 5] = True  # 1 positive: 3 negatives
    positive[3, :45] = True  # 45 positives, 5 negatives: all of them
    # image 2: no positive, no negative either
    kept = hard_negative_mask(tf.constant(losses), tf.constant(positive)).numpy()
    for b in range(4):
        negatives = np.flatnonzero(~positive[b])
        wanted = min(3 * positive[b].sum(), negatives.size)
        best = negatives[np.argsort(-losses[b, negatives], kind="stable")[:wanted]]
        assert set(np.flatnonzero(kept[b])) == set(best.tolist())
        assert not (kept[b] & positive[b]).any()
    assert kept.sum(axis=1).tolist() == [9, 3, 0, 5]


def test_an_image_without_objects_has_a_finite_loss_and_gradient():
    family = get_detector("ssd_small")
    model = family.build(3, (64, 64, 3))
    anchors = family.anchors((64, 64, 3))
    images = tf.random.normal([2, 64, 64, 3], seed=1)
    with tf.GradientTape() as tape:
        out = model(images, training=True)
        total, parts, positives = family.loss(
            out, tf.zeros([2, 4, 4]), -tf.ones([2, 4], tf.int32), anchors
        )
    grads = tape.gradient(total, model.trainable_variables)
    assert float(positives) == 0 and np.isfinite(float(total))
    # no positives: no negatives mined either, so nothing is counted
    assert float(parts["classification"]) == 0.0 and float(parts["box"]) == 0.0
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)


def test_perfect_boxes_give_zero_box_loss_and_the_classification_counts_4_per_positive():
    family = get_detector("ssd_small")
    anchors = family.anchors((64, 64, 3))
    gt = tf.constant([[[10.0, 12.0, 26.0, 30.0], [0, 0, 0, 0]]])  # one object, one pad slot
    classes = tf.constant([[1, -1]])
    n = anchors.shape[0]
    perfect = {
        "class_logits": tf.zeros([1, n, 4]),  # every class at probability 1/4
        "box_deltas": encode_boxes(
            tf.broadcast_to(gt[:, :1], [1, n, 4]), anchors[None], (10.0, 10.0, 5.0, 5.0)
        ),
    }
    total, parts, positives = family.loss(perfect, gt, classes, anchors)
    p = float(positives)
    assert p >= 1
    assert float(parts["box"]) == pytest.approx(0.0, abs=1e-4)
    # positives and 3 x positives mined negatives, each -log(1/4)
    assert float(parts["classification"]) == pytest.approx(4 * p * math.log(4), rel=1e-5)
    assert float(total) == pytest.approx(float(parts["classification"]), abs=1e-4)


def test_the_positives_are_the_iou_matches_and_a_wrong_box_costs_smooth_l1():
    family = get_detector("ssd_small")
    anchors = family.anchors((64, 64, 3))
    n = anchors.shape[0]
    gt = np.array([[[10.0, 12.0, 26.0, 30.0]]])
    a = anchors.numpy().astype(np.float64)
    ix = np.clip(np.minimum(a[:, 2], gt[0, 0, 2]) - np.maximum(a[:, 0], gt[0, 0, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, 3], gt[0, 0, 3]) - np.maximum(a[:, 1], gt[0, 0, 1]), 0, None)
    inter = ix * iy
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + 16 * 18 - inter
    overlap = inter / union
    expected = (overlap >= 0.5) | (overlap >= overlap.max() - 1e-6)  # + the best box
    outputs = {"class_logits": tf.zeros([1, n, 4]), "box_deltas": tf.zeros([1, n, 4])}
    _, parts, positives = family.loss(
        outputs, tf.constant(gt, tf.float32), tf.constant([[0]]), anchors
    )
    assert float(positives) == expected.sum()
    # zero deltas: smooth-L1 (beta 1) of the (10, 10, 5, 5) coding of each positive
    cx, cy = (a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2
    w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    t = np.stack(
        [10 * (18 - cx) / w, 10 * (21 - cy) / h, 5 * np.log(16 / w), 5 * np.log(18 / h)], -1
    )[expected]
    smooth = np.where(np.abs(t) < 1, 0.5 * t**2, np.abs(t) - 0.5)
    assert float(parts["box"]) == pytest.approx(smooth.sum(), rel=1e-4)


def test_decoding_drops_the_background_column():
    family = get_detector("ssd_small")
    anchors = family.anchors((64, 64, 3))
    n = anchors.shape[0]
    logits = np.random.default_rng(2).normal(size=(2, n, 4)) * 3
    boxes, scores = family.decode(
        {"class_logits": tf.constant(logits, tf.float32), "box_deltas": tf.zeros([2, n, 4])},
        anchors,
    )
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert scores.shape == (2, n, 3)
    np.testing.assert_allclose(scores.numpy(), softmax[..., 1:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(boxes.numpy()[0], anchors.numpy(), atol=1e-4)


def test_small_ssd_outputs_one_row_per_default_box():
    family = get_detector("ssd_small")
    model = build("ssd_small", num_classes=3)
    n = family.anchors((64, 64, 3)).shape[0]
    out = model(np.zeros((2, 64, 64, 3), np.float32))
    assert out["class_logits"].shape == (2, n, 4)  # 3 object classes + background
    assert out["box_deltas"].shape == (2, n, 4)


def test_l2_normalization_is_a_scaled_unit_vector_per_location():
    x = np.random.default_rng(3).normal(size=(2, 3, 3, 8)).astype(np.float32)
    layer = ScaledL2Normalization(20.0)
    y = layer(x).numpy()
    expected = 20 * x / np.linalg.norm(x.astype(np.float64), axis=-1, keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(8,)]
    np.testing.assert_allclose(layer(np.zeros((1, 1, 1, 8), np.float32)).numpy(), 0.0)
    clone = ScaledL2Normalization.from_config(layer.get_config())
    assert clone.scale == 20.0


def test_bad_parts_get_errors_naming_the_argument():
    with pytest.raises(ValueError, match="features=True"):
        SSD(SMALL, lambda shape: build("resnet18", input_shape=shape)).build(3, (64, 64, 3))
    with pytest.raises(ValueError, match="missing sources"):
        SSD(SMALL, lambda shape: keras.Model(*_one_map(shape))).build(3, (64, 64, 3))
    with pytest.raises(ValueError, match="boxes.aspect_ratios"):
        SSDConfig(sources=("C2",), extra_layers=())
    with pytest.raises(ValueError, match="scales"):
        DefaultBoxGenerator(aspect_ratios=[[2], [2]], scales=(0.1, 0.2))
    with pytest.raises(ValueError, match="num_classes"):
        get_detector("ssd_small").build(0, (64, 64, 3))
    with pytest.raises(ValueError, match="unknown detector"):
        get_detector("ssd_tiny")


def _one_map(shape):
    images = keras.Input(shape)
    return images, {"C9": keras.layers.Conv2D(4, 3, strides=8)(images)}
