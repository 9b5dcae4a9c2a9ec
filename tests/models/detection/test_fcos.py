"""FCOS: published parameter count, the location layout, the paper's target assignment and loss
against float64 NumPy references, decoding and inference scores."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tests.models.detection import non_batch_norm_weights
from yeehaw_tf.models import build, get_detector
from yeehaw_tf.models.detection.fcos import FCOS, FCOSConfig, assign, centerness_targets

SHAPE = (64, 64, 3)


@pytest.mark.slow
def test_fcos_resnet50_fpn_has_torchvisions_parameter_count():
    # torchvision.models.detection.fcos_resnet50_fpn(num_classes=91): 32,269,600 weights
    # (FCOS_ResNet50_FPN_Weights num_params) besides its frozen batch norm's buffers
    model = build("fcos_resnet50_fpn", num_classes=91, input_shape=(128, 128, 3))
    assert non_batch_norm_weights(model) == 32_269_600
    n = get_detector("fcos_resnet50_fpn").anchors((128, 128, 3)).shape[0]
    assert n == 16 * 16 + 8 * 8 + 4 * 4 + 2 * 2 + 1
    assert model.output["class_logits"].shape[1:] == (n, 91)


# ----------------------------------------------------------------------------- NumPy references
def _paper_locations(height, width, strides):
    """The paper's locations (floor(s/2) + x s, floor(s/2) + y s), level then row-major."""
    points, per_location = [], []
    for s in strides:
        for i in range(math.ceil(height / s)):
            for j in range(math.ceil(width / s)):
                points.append((s // 2 + j * s, s // 2 + i * s))
                per_location.append(s)
    return np.array(points, np.float64), np.array(per_location, np.float64)


def _reference_assign(points, strides, ranges, boxes, classes, radius=1.5):
    """Per location: the index of the box it regresses, or -1 (loops over the paper's rules)."""
    matches = np.full(len(points), -1)
    for n, ((x, y), s, (lower, upper)) in enumerate(zip(points, strides, ranges, strict=True)):
        best_area = np.inf
        for m, (box, cls) in enumerate(zip(boxes, classes, strict=True)):
            if cls < 0:
                continue
            x1, y1, x2, y2 = box
            ltrb = np.array([x - x1, y - y1, x2 - x, y2 - y])
            inside = ltrb.min() > 0
            centre = max(abs(x - (x1 + x2) / 2), abs(y - (y1 + y2) / 2)) < radius * s
            sized = lower < ltrb.max() < upper
            area = (x2 - x1) * (y2 - y1)
            if inside and centre and sized and area < best_area:
                matches[n], best_area = m, area
    return matches


def _reference_centerness(point, box):
    x, y = point
    left, top, right, bottom = x - box[0], y - box[1], box[2] - x, box[3] - y
    return math.sqrt(min(left, right) / max(left, right) * min(top, bottom) / max(top, bottom))


def _log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def _reference_giou(a, b):
    area = lambda r: max(r[2] - r[0], 0) * max(r[3] - r[1], 0)  # noqa: E731
    iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    inter = iw * ih
    union = area(a) + area(b) - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union - (hull - union) / hull


def _small():
    family = get_detector("fcos_small")
    points, strides = _paper_locations(64, 64, (4, 8, 16))
    ranges = np.array([{4: (0, 16), 8: (16, 32), 16: (32, np.inf)}[s] for s in strides])
    return family, points, strides, ranges


# two images: [C, A, pad] (A inside C, same centre) and [B, pad, pad] (a larger box)
BOXES = np.array(
    [
        [[8, 10, 28, 32], [10, 12, 26, 30], [0, 0, 0, 0]],
        [[4, 4, 44, 44], [0, 0, 0, 0], [0, 0, 0, 0]],
    ],
    np.float64,
)
CLASSES = np.array([[2, 0, -1], [1, -1, -1]])


# ----------------------------------------------------------------------------- locations
@pytest.mark.parametrize("family_name", ["fcos_small", "fcos_resnet50_fpn"])
@pytest.mark.parametrize("size", [(64, 64), (100, 75)])
def test_locations_follow_the_papers_layout(family_name, size):
    family = get_detector(family_name)
    strides = [2**level for level in family.config.levels]
    points, per_location = _paper_locations(*size, strides)
    anchors = family.anchors((*size, 3)).numpy()
    assert anchors.dtype == np.float32 and anchors.shape == (len(points), 4)
    np.testing.assert_array_equal(anchors[:, :2], points)
    np.testing.assert_array_equal(anchors[:, 2:], points)  # degenerate boxes (x, y, x, y)
    _, config_strides, ranges = family.locations((*size, 3))
    np.testing.assert_array_equal(config_strides, per_location)
    by_stride = dict(zip(strides, family.config.size_ranges, strict=True))
    np.testing.assert_array_equal(ranges, [by_stride[s] for s in per_location])
    _, read_back, read_ranges = family._level_data(tf.constant(anchors))
    np.testing.assert_array_equal(read_back.numpy(), per_location)
    np.testing.assert_array_equal(read_ranges.numpy(), ranges.astype(np.float32))
    # the same read back from symbolic anchors (a graph input, not a constant)
    symbolic = tf.function(
        lambda a: family._level_data(a)[1:], input_signature=[tf.TensorSpec([None, 4])]
    )
    graph_strides, graph_ranges = symbolic(tf.constant(anchors))
    np.testing.assert_array_equal(graph_strides.numpy(), per_location)
    np.testing.assert_array_equal(graph_ranges.numpy(), ranges.astype(np.float32))


def test_default_size_ranges_are_the_papers():
    assert list(FCOSConfig().size_ranges) == [
        (0, 64),
        (64, 128),
        (128, 256),
        (256, 512),
        (512, np.inf),
    ]


def test_small_fcos_outputs_one_row_per_location_and_starts_at_the_prior():
    family = get_detector("fcos_small")
    for shape in (SHAPE, (60, 44, 3)):
        model = family.build(3, shape)
        n = family.anchors(shape).shape[0]
        out = model(np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32))
        assert out["class_logits"].shape == (2, n, 3)
        assert out["box_regression"].shape == (2, n, 4)
        assert out["centerness"].shape == (2, n, 1)
    assert n == 15 * 11 + 8 * 6 + 4 * 3
    assert np.all(out["box_regression"].numpy() >= 0)  # ReLU'd distances
    assert abs(float(np.mean(tf.sigmoid(out["class_logits"]))) - 0.01) < 0.005


# ----------------------------------------------------------------------------- targets
def test_centerness_target_matches_the_papers_formula():
    rng = np.random.default_rng(1)
    boxes = np.sort(rng.uniform(0, 100, size=(50, 2, 2)), axis=1)  # [x1 y1], [x2 y2]
    boxes = boxes.reshape(50, 4)
    t = rng.uniform(0.05, 0.95, size=(50, 2))
    points = boxes[:, :2] + t * (boxes[:, 2:] - boxes[:, :2])
    expected = [_reference_centerness(p, b) for p, b in zip(points, boxes, strict=True)]
    got = centerness_targets(tf.constant(points, tf.float64), tf.constant(boxes, tf.float64))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    centre = centerness_targets(tf.constant([[5.0, 5.0]]), tf.constant([[0.0, 0.0, 10, 10]]))
    assert float(centre[0]) == pytest.approx(1.0)


def test_assignment_follows_the_papers_rules():
    family, points, strides, ranges = _small()
    matches, matched_boxes, matched_classes = assign(
        tf.constant(points, tf.float32),
        tf.constant(strides, tf.float32),
        tf.constant(ranges, tf.float32),
        tf.constant(BOXES, tf.float32),
        tf.constant(CLASSES),
    )
    matches = matches.numpy()
    for b in range(2):
        expected = _reference_assign(points, strides, ranges, BOXES[b], CLASSES[b])
        np.testing.assert_array_equal(matches[b], expected)
        positive = expected >= 0
        np.testing.assert_array_equal(
            matched_boxes.numpy()[b][positive], BOXES[b][expected[positive]]
        )
        np.testing.assert_array_equal(
            matched_classes.numpy()[b][positive], CLASSES[b][expected[positive]]
        )

    def at(x, y, s):
        (index,) = np.nonzero((points[:, 0] == x) & (points[:, 1] == y) & (strides == s))
        return int(index[0])

    # near the centre of both A and C (same centre (18, 21)): the smaller A (index 1) wins
    assert matches[0, at(18, 22, 4)] == 1
    # inside A and C but 7 px > 1.5 * 4 from their centre row: not positive
    assert matches[0, at(14, 14, 4)] == -1
    # on P3 A's and C's locations have max(l, t, r, b) <= 16, below P3's range (16, 32)
    assert matches[0, at(12, 20, 8)] == -1 and matches[0, at(20, 20, 8)] == -1
    # the 40 px box B: max distance 22 > 16 on P2, but 24 on P3 -> P3 only
    assert matches[1, at(22, 22, 4)] == -1
    assert matches[1, at(20, 20, 8)] == 0 and matches[1, at(28, 28, 8)] == 0
    assert np.all(matches[1][strides == 4] == -1)
    # padding never matches
    assert not np.any(matches == 2)


# ----------------------------------------------------------------------------- loss
def _outputs(rng, n, num_classes=3, batch=2):
    return {
        "class_logits": tf.constant(rng.normal(size=(batch, n, num_classes)), tf.float32),
        "box_regression": tf.constant(rng.uniform(0.2, 3.0, size=(batch, n, 4)), tf.float32),
        "centerness": tf.constant(rng.normal(size=(batch, n, 1)), tf.float32),
    }


def test_loss_matches_a_float64_reference():
    family, points, strides, ranges = _small()
    anchors = family.anchors(SHAPE)
    outputs = _outputs(np.random.default_rng(2), len(points))
    total, parts, positives = family.loss(
        outputs, tf.constant(BOXES, tf.float32), tf.constant(CLASSES), anchors
    )
    logits = outputs["class_logits"].numpy().astype(np.float64)
    regression = outputs["box_regression"].numpy().astype(np.float64)
    centerness = outputs["centerness"].numpy()[..., 0].astype(np.float64)
    focal = box = ctr = count = 0.0
    for b in range(2):
        matches = _reference_assign(points, strides, ranges, BOXES[b], CLASSES[b])
        targets = np.zeros_like(logits[b])
        for n in np.nonzero(matches >= 0)[0]:
            targets[n, CLASSES[b][matches[n]]] = 1
            x, y = points[n]
            d = regression[b, n] * strides[n]
            predicted = (x - d[0], y - d[1], x + d[2], y + d[3])
            box += 1 - _reference_giou(BOXES[b][matches[n]], predicted)
            c = _reference_centerness(points[n], BOXES[b][matches[n]])
            z = centerness[b, n]
            ctr += -(c * _log_sigmoid(z) + (1 - c) * _log_sigmoid(-z))
            count += 1
        p_t = np.where(targets == 1, _log_sigmoid(logits[b]), _log_sigmoid(-logits[b]))
        alpha_t = np.where(targets == 1, 0.25, 0.75)
        focal += np.sum(-alpha_t * (1 - np.exp(p_t)) ** 2 * p_t)
    assert float(positives) == count > 0
    assert float(parts["classification"]) == pytest.approx(focal, rel=1e-4)
    assert float(parts["box"]) == pytest.approx(box, rel=1e-4)
    assert float(parts["centerness"]) == pytest.approx(ctr, rel=1e-4)
    assert float(total) == pytest.approx(focal + box + ctr, rel=1e-4)
    assert tuple(parts) == family.loss_names


def test_a_perfect_prediction_decodes_to_the_box_and_has_zero_box_loss():
    family, points, strides, ranges = _small()
    anchors = family.anchors(SHAPE)
    regression = np.ones((2, len(points), 4))
    for b in range(2):
        matches = _reference_assign(points, strides, ranges, BOXES[b], CLASSES[b])
        for n in np.nonzero(matches >= 0)[0]:
            (x, y), box = points[n], BOXES[b][matches[n]]
            regression[b, n] = np.array([x - box[0], y - box[1], box[2] - x, box[3] - y])
            regression[b, n] /= strides[n]
    outputs = _outputs(np.random.default_rng(3), len(points))
    outputs["box_regression"] = tf.constant(regression, tf.float32)
    boxes, _ = family.decode(outputs, anchors)
    for b in range(2):
        matches = _reference_assign(points, strides, ranges, BOXES[b], CLASSES[b])
        positive = matches >= 0
        np.testing.assert_allclose(
            boxes.numpy()[b][positive], BOXES[b][matches[positive]], atol=1e-4
        )
    _, parts, _ = family.loss(
        outputs, tf.constant(BOXES, tf.float32), tf.constant(CLASSES), anchors
    )
    assert float(parts["box"]) == pytest.approx(0.0, abs=1e-4)


def test_scores_are_the_geometric_mean_of_class_and_centerness():
    family, points, _, _ = _small()
    outputs = _outputs(np.random.default_rng(4), len(points))
    boxes, scores = family.decode(outputs, family.anchors(SHAPE))
    sigmoid = lambda z: 1 / (1 + np.exp(-z.numpy().astype(np.float64)))  # noqa: E731
    expected = np.sqrt(sigmoid(outputs["class_logits"]) * sigmoid(outputs["centerness"]))
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-5)
    assert boxes.shape == (2, len(points), 4)


def test_an_image_without_objects_has_a_finite_loss_and_gradient():
    family = get_detector("fcos_small")
    model = family.build(3, SHAPE)
    anchors = family.anchors(SHAPE)
    with tf.GradientTape() as tape:
        out = model(tf.zeros([1, *SHAPE]), training=True)
        total, parts, positives = family.loss(
            out, tf.zeros([1, 4, 4]), -tf.ones([1, 4], tf.int32), anchors
        )
    grads = tape.gradient(total, model.trainable_variables)
    assert float(positives) == 0 and np.isfinite(float(total))
    assert float(parts["box"]) == 0 and float(parts["centerness"]) == 0
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)


def test_bad_parts_get_errors_naming_the_argument():
    with pytest.raises(ValueError, match="features=True"):
        FCOS(FCOSConfig(), lambda shape: build("resnet18", input_shape=shape)).build(3, SHAPE)
    with pytest.raises(ValueError, match="size_ranges"):
        FCOSConfig(min_level=3, max_level=4)
    with pytest.raises(ValueError, match="size_ranges"):
        FCOSConfig(min_level=3, max_level=4, size_ranges=((0, 64), (128, 64)))
    with pytest.raises(ValueError, match="min_level"):
        FCOSConfig(min_level=0, max_level=2, size_ranges=((0, 1), (1, 2), (2, 3)))
    with pytest.raises(ValueError, match="num_classes"):
        get_detector("fcos_small").build(0, SHAPE)
