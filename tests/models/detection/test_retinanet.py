"""RetinaNet: published parameter count, anchor layout, the prior, and the loss's targets."""

import numpy as np
import pytest
import tensorflow as tf

from tests.models.detection import non_batch_norm_weights
from yeehaw_tf.models import build, get_detector
from yeehaw_tf.models.detection.anchor_generator import AnchorGenerator
from yeehaw_tf.models.detection.retinanet import RetinaNet, RetinaNetConfig
from yeehaw_tf.ops import encode_boxes


@pytest.mark.slow
def test_retinanet_resnet50_fpn_has_torchvisions_parameter_count():
    # torchvision.models.detection.retinanet_resnet50_fpn(num_classes=91): 34,014,999 weights
    # besides its frozen batch norm's buffers
    model = build("retinanet_resnet50_fpn", num_classes=91, input_shape=(128, 128, 3))
    assert non_batch_norm_weights(model) == 34_014_999


def test_small_retinanet_outputs_one_row_per_anchor_and_starts_at_the_prior():
    family = get_detector("retinanet_small")
    model = family.build(3, (64, 64, 3))
    anchors = family.anchors((64, 64, 3))
    # P2..P4 of a 64x64 image: 16x16 + 8x8 + 4x4 locations, 9 anchors each
    assert anchors.shape == ((256 + 64 + 16) * 9, 4)
    out = model(np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32))
    assert out["class_logits"].shape == (2, anchors.shape[0], 3)
    assert out["box_deltas"].shape == (2, anchors.shape[0], 4)
    probabilities = tf.sigmoid(out["class_logits"]).numpy()
    assert abs(float(np.mean(probabilities)) - 0.01) < 0.005


def test_loss_targets_a_perfect_prediction_to_zero_box_loss_and_counts_positives():
    family = get_detector("retinanet_small")
    anchors = family.anchors((64, 64, 3))
    gt = tf.constant([[[10.0, 12.0, 26.0, 30.0], [0, 0, 0, 0]]])  # one object, one pad slot
    classes = tf.constant([[1, -1]])
    n = anchors.shape[0]
    perfect = {
        "class_logits": tf.fill([1, n, 3], -20.0),
        "box_deltas": encode_boxes(tf.broadcast_to(gt[:, :1], [1, n, 4]), anchors[None]),
    }
    total, parts, positives = family.loss(perfect, gt, classes, anchors)
    assert float(positives) >= 1
    assert float(parts["box"]) == pytest.approx(0.0, abs=1e-4)
    # the positive anchors predict background with logit -20: the classification loss is
    # alpha * 20 per positive (focal term ~1), the negatives ~0
    assert float(parts["classification"]) == pytest.approx(0.25 * 20 * float(positives), rel=1e-3)


def test_an_image_without_objects_has_a_finite_loss_and_gradient():
    family = get_detector("retinanet_small")
    model = family.build(3, (64, 64, 3))
    anchors = family.anchors((64, 64, 3))
    images = tf.zeros([1, 64, 64, 3])
    with tf.GradientTape() as tape:
        out = model(images, training=True)
        total, _, positives = family.loss(
            out, tf.zeros([1, 4, 4]), -tf.ones([1, 4], tf.int32), anchors
        )
    grads = tape.gradient(total, model.trainable_variables)
    assert float(positives) == 0 and np.isfinite(float(total))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)


def test_bad_parts_get_errors_naming_the_argument():
    with pytest.raises(ValueError, match="features=True"):
        RetinaNet(RetinaNetConfig(), lambda shape: build("resnet18", input_shape=shape)).build(
            3, (64, 64, 3)
        )
    with pytest.raises(ValueError, match="anchors.levels"):
        RetinaNetConfig(anchors=AnchorGenerator(levels=(3, 4), sizes=(32, 64)))
    with pytest.raises(ValueError, match="num_classes"):
        get_detector("retinanet_small").build(0, (64, 64, 3))
    with pytest.raises(ValueError, match="unknown detector"):
        get_detector("retinanet_tiny")
