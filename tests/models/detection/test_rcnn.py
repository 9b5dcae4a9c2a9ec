"""R-CNN: the published size from the layer tables, the warp against a float64 NumPy bilinear
warp, the SVM labels, hinge objective, hard-negative mining and ridge regressors against
NumPy transcriptions of the paper (section 2.3, appendices B and C), the three training
stages end to end on the small variant, serialisation and errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.detection import np_iou
from yeehaw_tf.models import build, get_detector
from yeehaw_tf.models.detection.postprocess import PostProcessor
from yeehaw_tf.models.detection.proposal_inputs import (
    pad_proposals,
    proposal_valid,
    selective_search_proposals,
)
from yeehaw_tf.models.detection.rcnn import RCNNConfig, RCNNNetwork
from yeehaw_tf.models.detection.rcnn_stages import (
    fit_ridge_regressors,
    fit_svms,
    mine_hard_negatives,
    regression_examples,
    svm_labels,
    svm_objective,
)
from yeehaw_tf.training.randomness import StepRandomness

TOLERANCE = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_alexnet_variant_has_the_papers_parameter_count():
    """Krizhevsky et al. 2012 (figure 2; conv2, conv4 and conv5 see half the channels, one GPU's
    worth) conv1..fc7, R-CNN's (N + 1)-way fine-tuning layer (section 2.3), one linear SVM per
    class on fc7 and one box regressor per class on pool5 (appendix C), 20 VOC classes."""
    conv = 96 * (11 * 11 * 3) + 96  # conv1
    conv += 256 * (5 * 5 * 48) + 256  # conv2, 2 groups
    conv += 384 * (3 * 3 * 256) + 384  # conv3
    conv += 384 * (3 * 3 * 192) + 384  # conv4, 2 groups
    conv += 256 * (3 * 3 * 192) + 256  # conv5, 2 groups
    fc = (6 * 6 * 256) * 4096 + 4096 + 4096 * 4096 + 4096  # fc6 (pool5 = 9216), fc7
    svms = 20 * (4096 + 1)
    regressors = 20 * (9216 * 4 + 4)
    finetune = 4096 * 21 + 21
    assert conv + fc + svms + regressors == 57_687_524
    network = build("rcnn_alexnet", num_classes=20)
    assert isinstance(network, RCNNNetwork)
    assert network.cnn.output["pool5"].shape[-1] == 9216
    assert network.heads.get_layer("class_logits").count_params() == finetune
    assert network.count_params() == conv + fc + svms + regressors + finetune


# --- float64 references ----------------------------------------------------------------------


def np_warp(image, box, size, padding):
    """The box dilated by ``size / (size - 2 padding)`` about its centre, then each output
    pixel the bilinear interpolation (edge pixels repeated) at its centre: pixel ``i`` of the
    image covers ``[i, i + 1)``, so output pixel ``k`` samples ``y1 + (k + 0.5) h / size - 0.5``
    in pixel-index coordinates."""
    image = image.astype(np.float64)
    x1, y1, x2, y2 = np.asarray(box, np.float64)
    scale = size / (size - 2 * padding)
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * scale, (y2 - y1) * scale

    def taps(start, length, n):
        c = np.clip(start + (np.arange(size) + 0.5) * length / size - 0.5, 0, n - 1)
        lo = np.floor(c).astype(int)
        return lo, np.minimum(lo + 1, n - 1), c - lo

    y0, y1_, fy = taps(cy - h / 2, h, image.shape[0])
    x0, x1_, fx = taps(cx - w / 2, w, image.shape[1])
    fy, fx = fy[:, None, None], fx[None, :, None]
    top = (1 - fx) * image[y0][:, x0] + fx * image[y0][:, x1_]
    bottom = (1 - fx) * image[y1_][:, x0] + fx * image[y1_][:, x1_]
    return (1 - fy) * top + fy * bottom


def hinge(x):
    return np.maximum(0.0, x)


# --- the warp --------------------------------------------------------------------------------


def test_the_warp_is_a_bilinear_warp_of_the_dilated_proposal():
    network = get_detector("rcnn").build(3, (64, 64, 3))
    size, padding = network.config.warp_size, network.config.context_padding
    assert (size, padding) == (32, 2)
    images = np.random.default_rng(0).uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)
    boxes = np.array(
        [
            [[10.3, 12.7, 30.1, 41.9], [3.0, 5.0, 11.0, 13.0]],
            [[20.5, 2.25, 60.0, 9.5], [30, 30, 31, 33]],
        ],
        np.float32,
    )
    crops = network.warp(images, boxes).numpy().reshape(2, 2, size, size, 3)
    for b in range(2):
        for k in range(2):
            expected = np_warp(images[b], boxes[b, k], size, padding)
            np.testing.assert_allclose(crops[b, k], expected, **TOLERANCE)
    # past the image (more than a pixel beyond its edge) the warp reads 0: the dataset mean
    far = network.warp(images[:1], np.array([[[40.0, 10.0, 100.0, 30.0]]], np.float32)).numpy()
    scale = size / (size - 2 * padding)
    x = 70 - 30 * scale + (np.arange(size) + 0.5) * 60 * scale / size - 0.5
    assert np.all(far[0][:, x > 64] == 0) and np.all(far[0][:, x < 62] != 0)


# --- stage 2: SVM labels, hinge, mining ---------------------------------------------------------


def test_svm_and_regression_labels_follow_the_paper():
    gt = np.array([[10, 10, 30, 30], [40, 40, 60, 60]], np.float32)
    gt_classes = np.array([0, 2])
    proposals = np.array(
        [[12, 12, 30, 30], [20, 20, 40, 40], [15, 10, 35, 30], [41, 40, 60, 58], [0, 40, 20, 60]],
        np.float32,
    )
    candidates = np.concatenate([proposals, gt])
    candidate_classes = np.array([-1] * 5 + [0, 2])
    positive, negative = svm_labels(candidates, candidate_classes, gt, gt_classes, 3, 0.3)
    overlaps = np_iou(candidates, gt)
    for n in range(len(candidates)):
        for c in range(3):
            # positives: ground-truth boxes of the class; negatives: IoU < 0.3 with every
            # instance of the class (every region, for a class absent from the image)
            assert positive[n, c] == (candidate_classes[n] == c)
            of_class = [m for m in range(len(gt)) if gt_classes[m] == c]
            assert negative[n, c] == all(overlaps[n, m] < 0.3 for m in of_class)
    assert negative[:, 1].all() and not negative[[0, 2, 5], 0].any() and negative[1, 0]
    box_class, targets = regression_examples(candidates, gt, gt_classes, 0.6, (1, 1, 1, 1))
    for n in range(len(candidates)):
        best = overlaps[n].argmax()
        if overlaps[n, best] >= 0.6:
            assert box_class[n] == gt_classes[best]
            p, g = candidates[n].astype(np.float64), gt[best].astype(np.float64)
            pw, ph, gw, gh = p[2] - p[0], p[3] - p[1], g[2] - g[0], g[3] - g[1]
            expected = [
                (g[0] + gw / 2 - p[0] - pw / 2) / pw,
                (g[1] + gh / 2 - p[1] - ph / 2) / ph,
                np.log(gw / pw),
                np.log(gh / ph),
            ]
            np.testing.assert_allclose(targets[n], expected, **TOLERANCE)
        else:
            assert box_class[n] == -1 and not targets[n].any()
    assert (box_class >= 0).sum() == 5  # proposals 0, 2 (IoU 0.6) and 3, and both gt boxes


def test_the_svm_objective_is_the_one_vs_rest_hinge():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 5))
    kernel, bias = rng.normal(size=(5, 3)), rng.normal(size=3)
    positive = rng.uniform(size=(12, 3)) < 0.3
    negative = ~positive & (rng.uniform(size=(12, 3)) < 0.7)
    got = svm_objective(
        tf.constant(kernel, tf.float32),
        tf.constant(bias, tf.float32),
        x,
        positive,
        negative,
        0.1,
        2.0,
    ).numpy()
    s = x @ kernel + bias
    for c in range(3):
        pos, neg = positive[:, c], negative[:, c]
        loss = 2.0 * hinge(1 - s[pos, c]).sum() + hinge(1 + s[neg, c]).sum()
        expected = loss / (pos.sum() + neg.sum()) + 0.05 * (kernel[:, c] ** 2).sum()
        np.testing.assert_allclose(got[c], expected, rtol=1e-5)


def test_hard_negative_mining_keeps_the_margin_violators_and_drops_the_easy():
    # rows: a cached negative at -1.1 (inside neither threshold: stays), a cached one at -1.3
    # (easy: leaves), a new candidate at -0.9 (in the margin: enters), one at exactly -1
    # (hinge 0: stays out), one at -1.1 (outside the margin: stays out), a non-candidate
    # at 0.5 (not offered: stays out), a cached one at 2.0 that is offered again (stays)
    scores = np.array([[-1.1], [-1.3], [-0.9], [-1.0], [-1.1], [0.5], [2.0]])
    cache = np.array([[1], [1], [0], [0], [0], [0], [1]], bool)
    candidates = np.array([[0], [0], [1], [1], [1], [0], [1]], bool)
    new = mine_hard_negatives(scores, candidates, cache, -1.0, -1.2)
    assert new[:, 0].tolist() == [True, False, True, False, False, False, True]
    # elementwise, the rule of the authors' code
    rng = np.random.default_rng(2)
    scores = rng.normal(-1, 0.5, (50, 4))
    cache, candidates = rng.uniform(size=(2, 50, 4)) < 0.5
    new = mine_hard_negatives(scores, candidates, cache, -1.0, -1.2)
    for n in range(50):
        for c in range(4):
            keep = cache[n, c] and not scores[n, c] < -1.2
            add = candidates[n, c] and scores[n, c] > -1.0
            assert new[n, c] == (keep or add)


def test_fitted_svms_separate_and_mining_drops_the_easy_negatives():
    rng = np.random.default_rng(3)
    positives = rng.normal([3, 0, 0, 0], 0.3, (10, 4))
    hard = rng.normal([0.5, 0, 0, 0], 0.2, (10, 4))
    easy = rng.normal([-6, 0, 0, 0], 0.3, (200, 4))
    x = np.concatenate([positives, hard, easy]).astype(np.float32)
    order = rng.permutation(len(x))
    x = x[order]
    positive = (order < 10)[:, None]
    negative = ~positive
    kernel, bias, cache = fit_svms(
        x, positive, negative, l2=1e-3, rounds=3, steps=300, learning_rate=0.05
    )
    scores = x @ kernel + bias
    assert (scores[positive[:, 0], 0] > 0).all() and (scores[negative[:, 0], 0] < 0).all()
    assert not (cache & positive).any()
    # the first round caches every negative it sees (the SVMs start at zero, inside every
    # margin); later rounds drop those the SVMs put far outside it: the easy -6 cluster goes
    assert cache[:, 0].sum() < 20 < negative.sum()


# --- stage 3: ridge ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [6, 40])  # fewer and more regions than features
def test_ridge_regressors_solve_the_penalised_least_squares(n):
    rng = np.random.default_rng(4)
    d, ridge = 10, 3.0
    x = rng.normal(size=(n, d))
    targets = rng.normal(size=(n, 4))
    box_class = np.resize([0, 1, -1, 1, 0, 1], n)  # class 2 of 3 has no regions
    kernel, bias = fit_ridge_regressors(x, box_class, targets, 3, ridge)
    kernel, bias = kernel.reshape(d, 3, 4), bias.reshape(3, 4)
    for c in range(2):
        rows = box_class == c
        augmented = np.concatenate([x[rows], np.ones((rows.sum(), 1))], 1)
        penalty = np.diag([ridge] * d + [0.0])  # the bias is not penalised
        w = np.linalg.solve(augmented.T @ augmented + penalty, augmented.T @ targets[rows])
        np.testing.assert_allclose(kernel[:, c], w[:d], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(bias[c], w[d], rtol=1e-8, atol=1e-10)
    assert not kernel[:, 2].any() and not bias[2].any()


# --- the network and its three stages ---------------------------------------------------------

GT = np.array([[[10, 10, 30, 30], [0, 0, 0, 0]], [[5, 5, 20, 40], [40, 40, 60, 60]]], np.float32)
CLASSES = np.array([[0, -1], [1, 2]], np.int32)


def _proposals(count=24, pad=4):
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 44, (2, count - pad, 2))
    boxes = np.concatenate([xy, np.minimum(xy + rng.uniform(4, 24, (2, count - pad, 2)), 64)], -1)
    near = GT[:, :1] + rng.integers(-2, 3, (2, 4, 4))  # some IoU >= 0.6 for the regressors
    return pad_proposals([np.concatenate([near[i], boxes[i]]) for i in range(2)], count)


def test_stage_one_trains_every_trainable_weight_and_leaves_svms_and_regressors_alone():
    family = get_detector("rcnn")
    network = build("rcnn", num_classes=3)
    images = tf.random.uniform([2, 64, 64, 3], seed=1)
    with tf.GradientTape() as tape:
        outputs = family.forward(
            network, images, GT, CLASSES, None, StepRandomness(0, 1), True, _proposals()
        )
        total, components, normalizer = family.loss(outputs, GT, CLASSES, family.anchors(None))
    assert set(components) == set(family.loss_names) and float(normalizer) == 2
    grads = tape.gradient(total, network.trainable_variables)
    missing = [v.path for v, g in zip(network.trainable_variables, grads, strict=True) if g is None]
    assert not missing, f"no gradient: {missing}"
    frozen = {w.path for w in network.non_trainable_weights}
    for layer in ("svm", "box_regressor"):  # fitted by stages 2 and 3, not by gradient steps
        assert {w.path for w in network.heads.get_layer(layer).weights} <= frozen
    # fine-tuning samples: IoU >= 0.5 foreground, all the rest background (no 0.1 floor)
    s = {k: v.numpy() for k, v in outputs["sample"].items()}
    assert s["rois"].shape == (2, min(16, 24 + 2), 4)  # 16 per image, at most R + M
    for i in range(2):
        gt = GT[i][CLASSES[i] >= 0]
        best = np_iou(s["rois"][i], gt).max(1)
        fg = s["labels"][i] > 0
        assert fg.sum() <= 8 and (best[fg] >= 0.5).all() and (best[~fg] < 0.5).all()
    # the fine-tuning loss is the mean softmax cross-entropy of the sampled regions
    logits = outputs["class_logits"].numpy().astype(np.float64).reshape(-1, 4)
    labels, weights = s["labels"].reshape(-1), s["weights"].reshape(-1)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ce = -(log_p[np.arange(len(labels)), labels] * weights).sum() / weights.sum()
    np.testing.assert_allclose(float(total / normalizer), ce, rtol=1e-5)


def test_stages_two_and_three_fit_the_svms_and_regressors_and_detections_use_them():
    family = get_detector("rcnn")
    network = family.build(3, (64, 64, 3))
    images = tf.random.uniform([2, 64, 64, 3], seed=2)
    proposals = _proposals()
    examples = family.region_examples(network, images, proposals, GT, CLASSES)
    n = int(proposal_valid(proposals).numpy().sum()) + 3  # and the 3 ground-truth boxes
    assert examples["fc7"].shape == (n, 256) and examples["pool5"].shape == (n, 4 * 4 * 128)
    assert examples["svm_positive"].sum() == 3 and (examples["box_class"] >= 0).sum() >= 3
    cache = family.fit_svms(network, examples, rounds=2, steps=50)
    assert not (cache & examples["svm_positive"]).any()
    family.fit_box_regressors(network, examples)
    svm_kernel, _ = network.heads.get_layer("svm").get_weights()
    box_kernel, _ = network.heads.get_layer("box_regressor").get_weights()
    assert np.abs(svm_kernel).sum() > 0 and np.abs(box_kernel).sum() > 0
    outputs = network({"images": images, "proposals": proposals})
    assert outputs["svm_scores"].shape == (2, 24, 3) and outputs["box_deltas"].shape == (
        2,
        24,
        4,
        4,
    )
    assert not outputs["box_deltas"].numpy()[:, :, 0].any()  # no background regressor
    # the SVM scores of the network are the fitted linear functions of fc7
    region = network.regions(images, tf.constant(proposals))
    kernel, bias = network.heads.get_layer("svm").get_weights()
    np.testing.assert_allclose(
        outputs["svm_scores"].numpy(), region["fc7"].numpy() @ kernel + bias, rtol=1e-4, atol=1e-4
    )
    post = PostProcessor(score_threshold=0.0, max_detections=5)
    for scores in ("svm", "softmax"):
        found = family.detect(network, outputs, post, scores)
        assert found["boxes"].shape == (2, 5, 4)
    with pytest.raises(ValueError, match="'svm' or 'softmax'"):
        family.detect(network, outputs, post, "max")


def test_the_network_saves_and_loads_with_safe_mode(tmp_path):
    network = get_detector("rcnn").build(3, (64, 64, 3))
    layer = network.heads.get_layer("svm")
    layer.set_weights([np.full(w.shape, 0.01, np.float32) for w in layer.get_weights()])
    inputs = {"images": tf.random.uniform([1, 64, 64, 3], seed=3), "proposals": _proposals()[:1]}
    path = str(tmp_path / "rcnn.keras")
    network.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.config == network.config
    assert not loaded.heads.get_layer("svm").trainable
    before, after = network(inputs), loaded(inputs)
    for key in before:
        np.testing.assert_allclose(after[key].numpy(), before[key].numpy(), **TOLERANCE)


def test_selective_search_gives_padded_proposals():
    image = np.zeros((32, 32, 3), np.uint8)
    image[4:20, 6:18] = (200, 30, 30)
    proposals = selective_search_proposals(image[None], 50, mode="single")
    assert proposals.shape == (1, 50, 4)
    valid = proposal_valid(proposals).numpy()[0]
    assert valid[0] and (proposals[0][~valid] == 0).all()
    assert np_iou(proposals[0][valid], [[6, 4, 18, 20]]).max() == 1.0
    np.testing.assert_array_equal(pad_proposals([np.ones((3, 4)) * [0, 0, 1, 1]], 2)[0, :, 2], 1)


def test_bad_arguments_get_errors_naming_them():
    family = get_detector("rcnn")
    network = family.build(3, (64, 64, 3))
    args = (network, tf.zeros([2, 64, 64, 3]), GT, CLASSES, None)
    with pytest.raises(ValueError, match="needs proposals"):
        family.forward(*args, StepRandomness(0, 1), True)
    with pytest.raises(ValueError, match="needs random"):
        family.forward(*args, None, True, _proposals())
    with pytest.raises(ValueError, match="'proposals'"):
        network({"images": tf.zeros([1, 64, 64, 3])})
    with pytest.raises(ValueError, match="num_classes"):
        family.build(1.5, (64, 64, 3))
    with pytest.raises(ValueError, match="context_padding"):
        RCNNConfig(warp_size=32, context_padding=16)
    with pytest.raises(ValueError, match="easy_threshold"):
        RCNNConfig(hard_threshold=-1.5, easy_threshold=-1.0)
    with pytest.raises(ValueError, match="count"):
        pad_proposals([], 0)


def test_eager_and_tf_function_agree():
    network = get_detector("rcnn").build(3, (64, 64, 3))
    inputs = {"images": tf.random.uniform([1, 64, 64, 3], seed=4), "proposals": _proposals()[:1]}
    eager, graph = network(inputs), tf.function(network)(inputs)
    for key in eager:
        np.testing.assert_allclose(graph[key].numpy(), eager[key].numpy(), **TOLERANCE)
