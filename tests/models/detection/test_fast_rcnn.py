"""Fast R-CNN: the published size from the paper's layer table, RoI sampling fractions and the
multi-task loss against float64 NumPy transcriptions of the paper (section 2.3, eq. 1-3),
gradients, serialisation and errors. Proposals are an input (see ``proposal_inputs``)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.detection import np_iou
from yeehaw_tf.models import build, get_detector
from yeehaw_tf.models.detection.fast_rcnn import FastRCNNConfig, FastRCNNNetwork
from yeehaw_tf.models.detection.postprocess import PostProcessor
from yeehaw_tf.training.randomness import StepRandomness

TOLERANCE = dict(rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_vgg16_variant_has_the_papers_parameter_count():
    """VGG16 (Simonyan & Zisserman, table 1, configuration D) conv layers, pool5 replaced by
    RoIPool 7 x 7 (no weights), fc6, fc7, and the two sibling layers for 20 VOC classes +
    background (Girshick 2015, section 2.1-2.2)."""
    convs = [(3, 64), (64, 64)]  # conv1_1, conv1_2
    convs += [(64, 128), (128, 128)]  # conv2
    convs += [(128, 256), (256, 256), (256, 256)]  # conv3
    convs += [(256, 512), (512, 512), (512, 512)]  # conv4
    convs += [(512, 512), (512, 512), (512, 512)]  # conv5
    expected = sum(3 * 3 * cin * cout + cout for cin, cout in convs)
    expected += 512 * 7 * 7 * 4096 + 4096  # fc6
    expected += 4096 * 4096 + 4096  # fc7
    expected += 4096 * 21 + 21  # cls_score: 20 classes + background
    expected += 4096 * 84 + 84  # bbox_pred: 4 per class, background included
    assert expected == 134_690_729
    network = build("fast_rcnn_vgg16", num_classes=20)
    assert isinstance(network, FastRCNNNetwork)
    assert network.count_params() == expected
    assert network.features.output.shape[1:] == (600 // 16, 600 // 16, 512)  # conv5_3


# --- float64 references ----------------------------------------------------------------------


def np_smooth_l1(x):
    """The paper's eq. 3: 0.5 x^2 if |x| < 1, else |x| - 0.5."""
    x = np.abs(x)
    return np.where(x < 1, 0.5 * x * x, x - 0.5)


def np_targets(g, p):
    """The paper's box coding (R-CNN appendix C), normalised by the authors' standard
    deviations (0.1, 0.1, 0.2, 0.2)."""
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    px, py = p[:, 0] + pw / 2, p[:, 1] + ph / 2
    gx, gy = g[:, 0] + gw / 2, g[:, 1] + gh / 2
    v = np.stack([(gx - px) / pw, (gy - py) / ph, np.log(gw / pw), np.log(gh / ph)], 1)
    return v / np.array([0.1, 0.1, 0.2, 0.2])


# --- a hand-made batch: 2 images, one object each -------------------------------------------

GT = np.array([[[16, 16, 40, 40], [0, 0, 0, 0]], [[20, 8, 44, 32], [0, 0, 0, 0]]], np.float32)
CLASSES = np.array([[1, -1], [2, -1]], np.int32)


def _proposals():
    """Per image 30 foreground (IoU >= 0.5), 100 background in [0.1, 0.5), 20 below 0.1 and
    10 padding rows."""
    rng = np.random.default_rng(0)
    out = np.zeros((2, 160, 4), np.float32)
    for i, gt in enumerate(GT[:, 0]):
        fg = gt + rng.integers(-3, 4, (30, 4))
        shift = rng.integers(10, 19, (100, 1)) * rng.choice([-1, 1], (100, 1))
        axis = rng.integers(0, 2, 100)
        bg = gt + np.where(axis[:, None] == 0, [1, 0, 1, 0], [0, 1, 0, 1]) * shift
        corner = [[48, 48, 62, 62], [0, 44, 14, 62]][i]  # away from the object
        far = np.array(corner) + rng.integers(0, 2, (20, 4))
        out[i, :150] = np.clip(np.concatenate([fg, bg, far]), 0, 64)
    return out


def _forward(family, network, proposals, seed=0):
    return family.forward(
        network,
        tf.random.uniform([2, 64, 64, 3], seed=1),
        GT,
        CLASSES,
        None,
        StepRandomness(seed, 3),
        True,
        proposals,
    )


def test_rois_are_sampled_as_the_paper_says():
    """64 RoIs per image, 25% (16) foreground at IoU >= 0.5 labelled with the object's class,
    the rest background with IoU in [0.1, 0.5); boxes below 0.1 and padding never taken."""
    family = get_detector("fast_rcnn")
    network = family.build(3, (64, 64, 3))
    proposals = _proposals()
    for i in range(2):  # the hand-made groups are what they claim to be
        overlaps = np_iou(proposals[i, :150], GT[i, :1])[:, 0]
        assert (overlaps[:30] >= 0.5).all()
        assert ((overlaps[30:130] >= 0.1) & (overlaps[30:130] < 0.5)).all()
        assert (overlaps[130:] < 0.1).all()
    sample = {k: v.numpy() for k, v in _forward(family, network, proposals)["sample"].items()}
    assert sample["rois"].shape == (2, 64, 4)
    for i in range(2):
        weights, labels, rois = sample["weights"][i], sample["labels"][i], sample["rois"][i]
        overlaps = np_iou(rois, GT[i, :1])[:, 0]
        assert weights.sum() == 64
        foreground = labels > 0
        assert foreground.sum() == 16  # 25% of 64
        assert (labels[foreground] == CLASSES[i, 0] + 1).all()
        assert (overlaps[foreground] >= 0.5).all()
        background = overlaps[~foreground]
        assert ((background >= 0.1) & (background < 0.5)).all()
        assert (rois[:, 2:] > rois[:, :2]).all()  # no padding row


def test_the_multi_task_loss_is_the_papers():
    """``L = mean over sampled RoIs of -log p_u + [u >= 1] sum smooth_L1(t^u - v)`` (lambda 1,
    eq. 1), from the forward's own sample and outputs."""
    family = get_detector("fast_rcnn")
    network = family.build(3, (64, 64, 3))
    layer = network.box_head.get_layer("box_deltas")
    kernel, bias = layer.get_weights()
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(0, 0.05, kernel.shape), rng.normal(0, 1.0, bias.shape)])
    outputs = _forward(family, network, _proposals())
    total, components, normalizer = family.loss(outputs, GT, CLASSES, family.anchors((64, 64)))
    assert set(components) == set(family.loss_names) and float(normalizer) == 2
    s = {k: v.numpy() for k, v in outputs["sample"].items()}
    logits = outputs["class_logits"].numpy().astype(np.float64).reshape(-1, 4)
    deltas = outputs["box_deltas"].numpy().astype(np.float64).reshape(-1, 4, 4)
    u, w = s["labels"].reshape(-1), s["weights"].reshape(-1)
    rois, gt = s["rois"].reshape(-1, 4).astype(np.float64), s["matched_boxes"].reshape(-1, 4)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    l_cls = -log_p[np.arange(len(u)), u]
    fg = (u >= 1) & (w > 0)
    l_loc = np.zeros(len(u))
    l_loc[fg] = np_smooth_l1(
        deltas[fg, u[fg]] - np_targets(gt[fg].astype(np.float64), rois[fg])
    ).sum(1)
    assert (np.abs(deltas[fg, u[fg]] - np_targets(gt[fg], rois[fg])) >= 1).any()  # both branches
    expected = ((l_cls + l_loc) * w).sum() / w.sum()
    np.testing.assert_allclose(float(total / normalizer), expected, rtol=1e-5)
    np.testing.assert_allclose(
        float(components["box"] / normalizer), (l_loc * w).sum() / w.sum(), rtol=1e-5
    )


def test_every_weight_gets_a_gradient_and_detections_come_out_of_the_shared_post_processor():
    family = get_detector("fast_rcnn")
    network = build("fast_rcnn", num_classes=3)
    proposals = _proposals()
    with tf.GradientTape() as tape:
        outputs = _forward(family, network, proposals)
        total, _, _ = family.loss(outputs, GT, CLASSES, None)
    grads = tape.gradient(total, network.trainable_variables)
    missing = [v.path for v, g in zip(network.trainable_variables, grads, strict=True) if g is None]
    assert not missing, f"no gradient: {missing}"
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    assert family.anchors((64, 64, 3)).shape == (0, 4)
    post = PostProcessor(score_threshold=0.0, max_detections=10)
    found = family.detect(network, outputs, post)
    direct = family.detect(
        network, network({"images": tf.zeros([2, 64, 64, 3]), "proposals": proposals}), post
    )
    for result in (found, direct):
        assert result["boxes"].shape == (2, 10, 4) and result["num_detections"].shape == (2,)
    # padding rows score 0 in the decoded outputs
    raw = network({"images": tf.zeros([2, 64, 64, 3]), "proposals": proposals})
    assert raw["proposal_valid"].numpy()[:, 150:].sum() == 0
    assert raw["class_logits"].shape == (2, 160, 4) and raw["box_deltas"].shape == (2, 160, 4, 4)


def test_the_network_saves_and_loads_with_safe_mode(tmp_path):
    network = get_detector("fast_rcnn").build(3, (64, 64, 3))
    inputs = {"images": tf.random.uniform([1, 64, 64, 3], seed=2), "proposals": _proposals()[:1]}
    path = str(tmp_path / "fast_rcnn.keras")
    network.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    before, after = network(inputs), loaded(inputs)
    for key in before:
        np.testing.assert_allclose(after[key].numpy(), before[key].numpy(), **TOLERANCE)


def test_bad_arguments_get_errors_naming_them():
    family = get_detector("fast_rcnn")
    network = family.build(3, (64, 64, 3))
    with pytest.raises(ValueError, match="needs proposals"):
        _forward(family, network, None)
    with pytest.raises(ValueError, match="static R"):
        _forward(family, network, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="'proposals'"):
        network(tf.zeros([1, 64, 64, 3]))
    with pytest.raises(ValueError, match="num_classes"):
        family.build(0, (64, 64, 3))
    with pytest.raises(ValueError, match="level"):
        FastRCNNConfig(level=-1)
    with pytest.raises(ValueError, match="takes no options"):
        build("fast_rcnn", num_classes=3, features=True)


# regression: roi_pool's bin edges were float, and Grappler's constant folding rounded an edge
# at an exact integer differently from eager execution (roi_w 3, out 7: 3 eagerly, 4 in graph)
def test_eager_and_tf_function_agree():
    network = get_detector("fast_rcnn").build(3, (64, 64, 3))
    rng = np.random.default_rng(6)
    corner = rng.uniform(0, 40, (1, 32, 2))
    proposals = np.concatenate([corner, corner + rng.uniform(4, 24, (1, 32, 2))], -1)
    inputs = {"images": tf.random.uniform([1, 64, 64, 3], seed=4), "proposals": proposals}
    eager, graph = network(inputs), tf.function(network)(inputs)
    for key in eager:
        np.testing.assert_allclose(graph[key].numpy(), eager[key].numpy(), **TOLERANCE)


def test_the_detection_task_takes_proposal_families_and_refuses_what_cannot_follow_them():
    from yeehaw_tf.training.tasks.detection import DetectionOptions

    for name in ("fast_rcnn", "rcnn"):
        assert DetectionOptions(model=name).proposals == 100
        with pytest.raises(ValueError, match=f"augment='crop' cannot be used with '{name}'"):
            DetectionOptions(model=name, augment="crop")
    with pytest.raises(ValueError, match="proposals must be a positive integer, got 0"):
        DetectionOptions(model="fast_rcnn", proposals=0)
    with pytest.raises(ValueError, match="unknown proposal_mode 'slow'"):
        DetectionOptions(model="fast_rcnn", proposal_mode="slow")
