"""YOLO v1: the paper's parameter count and output, its eq. 3 loss against a NumPy transcription,
and decoding."""

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.models import build, get_detector
from yeehaw_tf.models.detection.yolo import Yolo, YoloConfig

# Figure 3 of Redmon et al. (2016) as (kernel, c_in, c_out), written out independently
PAPER_CONVS = (
    [(7, 3, 64), (3, 64, 192), (1, 192, 128), (3, 128, 256), (1, 256, 256), (3, 256, 512)]
    + [(1, 512, 256), (3, 256, 512)] * 4
    + [(1, 512, 512), (3, 512, 1024)]
    + [(1, 1024, 512), (3, 512, 1024)] * 2
    + [(3, 1024, 1024)] * 4
)


@pytest.fixture(scope="module")
def paper_model():
    return build("yolo_v1", num_classes=20)


def test_yolo_v1_has_the_layer_tables_parameter_count(paper_model):
    assert len(PAPER_CONVS) == 24
    convs = sum(k * k * c_in * c_out + c_out for k, c_in, c_out in PAPER_CONVS)
    fully_connected = (7 * 7 * 1024 * 4096 + 4096) + (4096 * 1470 + 1470)
    assert paper_model.count_params() == convs + fully_connected == 271_703_550


def test_yolo_v1_outputs_7x7x30_for_20_classes_at_448(paper_model):
    assert paper_model.input_shape == (None, 448, 448, 3)
    assert tuple(paper_model.output["grid"].shape) == (None, 7, 7, 30)
    out = paper_model(np.zeros((1, 448, 448, 3), np.float32), training=False)
    assert out["grid"].shape == (1, 7, 7, 30)
    anchors = get_detector("yolo_v1").anchors((448, 448, 3))
    assert anchors.shape == (7 * 7 * 2, 4)


# ------------------------------------------------------------------------------- loss (eq. 3)
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def numpy_eq3(grid, boxes, classes, height, width, per_cell=2, logistic=False, lc=5.0, ln=0.5):
    """Redmon et al. (2016) eq. 3 in float64, cell by cell; the largest object owns a cell."""
    grid = np.asarray(grid, np.float64)
    _, rows, cols, depth = grid.shape
    num_classes = depth - 5 * per_cell
    ch, cw = height / rows, width / cols
    coord = confidence = klass = 0.0
    for b in range(grid.shape[0]):
        owner = {}
        for m, (box, k) in enumerate(zip(boxes[b], classes[b], strict=True)):
            if k < 0:
                continue
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            cell = (min(int(cy // ch), rows - 1), min(int(cx // cw), cols - 1))
            area = (box[2] - box[0]) * (box[3] - box[1])
            if cell not in owner or area > owner[cell][1]:
                owner[cell] = (m, area)
        for i in range(rows):
            for j in range(cols):
                raw = grid[b, i, j]
                preds = raw[: 5 * per_cell].reshape(per_cell, 5)
                probs = raw[5 * per_cell :]
                if logistic:
                    preds = _sigmoid(preds)
                    probs = np.exp(probs - probs.max()) / np.exp(probs - probs.max()).sum()
                if (i, j) not in owner:
                    confidence += ln * np.sum(preds[:, 4] ** 2)
                    continue
                m = owner[(i, j)][0]
                gt = np.asarray(boxes[b][m], np.float64)
                tx = (gt[0] + gt[2]) / 2 / cw - j
                ty = (gt[1] + gt[3]) / 2 / ch - i
                tw, th = np.sqrt((gt[2] - gt[0]) / width), np.sqrt((gt[3] - gt[1]) / height)
                ious = []
                for x, y, sw, sh, _ in preds:
                    pcx, pcy, pw, ph = (j + x) * cw, (i + y) * ch, sw**2 * width, sh**2 * height
                    ious.append(_iou([pcx - pw / 2, pcy - ph / 2, pcx + pw / 2, pcy + ph / 2], gt))
                r = int(np.argmax(ious))
                x, y, sw, sh, c = preds[r]
                coord += lc * ((x - tx) ** 2 + (y - ty) ** 2)
                coord += lc * ((sw - tw) ** 2 + (sh - th) ** 2)
                confidence += (c - ious[r]) ** 2
                confidence += ln * sum(preds[p, 4] ** 2 for p in range(per_cell) if p != r)
                klass += np.sum((probs - np.eye(num_classes)[classes[b][m]]) ** 2)
    return coord, confidence, klass


# two images of 64x64; image 0 has two objects centred in one cell (the second is larger)
GT = np.array(
    [
        [[10, 12, 26, 30], [36, 4, 60, 20], [34, 2, 62, 22], [40, 40, 52, 61]],
        [[5, 30, 25, 50], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    ],
    np.float32,
)
CLASSES = np.array([[1, 0, 2, 1], [2, -1, -1, -1]], np.int32)


@pytest.mark.parametrize("name", ["yolo_v1", "yolo_v1_small"])
def test_loss_matches_a_float64_transcription_of_eq3(name):
    family = get_detector(name)
    anchors = family.anchors((64, 64, 3))
    rows = 7 if name == "yolo_v1" else 8
    rng = np.random.default_rng(3)
    if name == "yolo_v1":  # linear outputs: predictions in [0, 1] overlap the objects
        grid = rng.uniform(0.0, 1.0, size=(2, rows, rows, 13))
    else:
        grid = rng.normal(0.0, 2.0, size=(2, rows, rows, 13))
    total, parts, normalizer = family.loss(
        {"grid": tf.constant(grid, tf.float32)}, tf.constant(GT), tf.constant(CLASSES), anchors
    )
    expected = numpy_eq3(grid, GT, CLASSES, 64, 64, logistic=name == "yolo_v1_small")
    got = [float(parts[k]) for k in family.loss_names]
    assert got == pytest.approx(expected, rel=1e-4)
    assert min(expected) > 0
    assert float(total) == pytest.approx(sum(expected), rel=1e-4)
    assert float(normalizer) == 2.0


def _perfect_grid(gt, classes, rows=7, size=64.0, num_classes=3, rng=None):
    """Grid predicting each listed object exactly with predictor 0 of its cell."""
    grid = rng.uniform(0.0, 1.0, size=(1, rows, rows, 10 + num_classes))
    cell = size / rows
    for box, k in zip(gt, classes, strict=True):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        i, j = int(cy // cell), int(cx // cell)
        grid[0, i, j, :4] = [
            cx / cell - j,
            cy / cell - i,
            np.sqrt((box[2] - box[0]) / size),
            np.sqrt((box[3] - box[1]) / size),
        ]
        grid[0, i, j, 10:] = np.eye(num_classes)[k]
    return tf.constant(grid, tf.float32)


def test_a_perfect_prediction_has_zero_coord_and_class_loss():
    family = get_detector("yolo_v1")
    anchors = family.anchors((64, 64, 3))
    gt, classes = GT[:1, [0, 2, 3]], CLASSES[:1, [0, 2, 3]]
    grid = _perfect_grid(gt[0], classes[0], rng=np.random.default_rng(0))
    _, parts, _ = family.loss({"grid": grid}, tf.constant(gt), tf.constant(classes), anchors)
    assert float(parts["coord"]) == pytest.approx(0.0, abs=1e-6)
    assert float(parts["class"]) == pytest.approx(0.0, abs=1e-6)


def test_the_largest_object_owns_a_shared_cell():
    family = get_detector("yolo_v1")
    anchors = family.anchors((64, 64, 3))
    gt, classes = GT[:1, 1:3], CLASSES[:1, 1:3]  # same cell; the second is larger
    larger = _perfect_grid(gt[0, 1:], classes[0, 1:], rng=np.random.default_rng(0))
    smaller = _perfect_grid(gt[0, :1], classes[0, :1], rng=np.random.default_rng(0))
    args = (tf.constant(gt), tf.constant(classes), anchors)
    assert float(family.loss({"grid": larger}, *args)[1]["coord"]) == pytest.approx(0, abs=1e-6)
    assert float(family.loss({"grid": smaller}, *args)[1]["coord"]) > 1e-3


def test_an_image_without_objects_has_a_finite_loss_and_gradient():
    family = get_detector("yolo_v1_small")
    model = family.build(3, (64, 64, 3))
    anchors = family.anchors((64, 64, 3))
    images = tf.random.normal([1, 64, 64, 3], seed=1)
    with tf.GradientTape() as tape:
        out = model(images, training=True)
        total, parts, images_counted = family.loss(
            out, tf.zeros([1, 4, 4]), -tf.ones([1, 4], tf.int32), anchors
        )
    grads = tape.gradient(total, model.trainable_variables)
    assert float(images_counted) == 1 and np.isfinite(float(total))
    assert float(parts["coord"]) == 0 and float(parts["class"]) == 0
    confidence = tf.sigmoid(tf.reshape(out["grid"], [1, 64, 13])[..., 4:10:5]).numpy()
    assert float(total) == pytest.approx(0.5 * np.sum(confidence.astype(np.float64) ** 2))
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in grads)


def test_decode_gives_back_a_known_cell_prediction_in_pixels():
    family = get_detector("yolo_v1")
    anchors = family.anchors((448, 448, 3))  # 64-pixel cells
    grid = np.zeros((1, 7, 7, 2 * 5 + 2), np.float32)
    # cell row 2, column 3, predictor 1: centre (3 + 0.25, 2 + 0.5) cells, 112 x 56 pixels
    grid[0, 2, 3, 5:10] = [0.25, 0.5, 0.5, np.sqrt(0.125), 0.8]
    grid[0, 2, 3, 10:] = [0.5, 0.25]
    boxes, scores = family.decode({"grid": tf.constant(grid)}, anchors)
    assert boxes.shape == (1, 98, 4) and scores.shape == (1, 98, 2)
    index = (2 * 7 + 3) * 2 + 1
    np.testing.assert_allclose(boxes[0, index], [152, 132, 264, 188], atol=1e-4)
    np.testing.assert_allclose(scores[0, index], [0.4, 0.2], atol=1e-6)
    np.testing.assert_allclose(anchors[index], [192, 128, 256, 192])
    assert float(tf.reduce_max(scores[0, :index])) == 0


def test_small_variant_shapes():
    family = get_detector("yolo_v1_small")
    model = family.build(3, (64, 64, 3))
    assert tuple(model.output["grid"].shape) == (None, 8, 8, 13)
    assert family.anchors((64, 64, 3)).shape == (8 * 8 * 2, 4)


def test_bad_arguments_get_errors_naming_them():
    with pytest.raises(ValueError, match="num_classes"):
        get_detector("yolo_v1_small").build(0, (64, 64, 3))
    with pytest.raises(ValueError, match="multiple of the grid's stride"):
        get_detector("yolo_v1_small").build(3, (60, 64, 3))
    with pytest.raises(ValueError, match="head"):
        YoloConfig(head="dense")
    with pytest.raises(ValueError, match="activation"):
        YoloConfig(activation="relu")
    with pytest.raises(ValueError, match="features=True"):
        Yolo(
            YoloConfig(level=3, head="conv"),
            lambda shape: build("resnet18", input_shape=shape),
        ).build(3, (64, 64, 3))
