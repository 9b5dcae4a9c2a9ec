"""FPN neck (Lin et al., 2017): level keys and strides on registry backbones at even and odd
sizes, the top-down pathway and extra levels against a float64 NumPy reference, parameter
counts, gradients, safe-mode round trips and a builtin-only TFLite export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from tests.layer_checks import check_list_layer
from tests.tflite_checks import run_exported
from yeehaw_tf.layers.roi import MultiLevelRoIAlign
from yeehaw_tf.models import build
from yeehaw_tf.models.detection import EXTRA_LEVELS, NearestUpsampleLike, build_fpn, fpn_neck
from yeehaw_tf.ops.anchors import pyramid_anchors
from yeehaw_tf.ops.roi import multilevel_roi_align

# --- float64 NumPy reference, written from the paper's description -------------------------


def _conv(x, kernel, bias, stride=1, pad=0):
    """Cross-correlation of ``x [B, H, W, Ci]`` with ``kernel [k, k, Ci, Co]``: zero padding
    ``pad`` on every side, then a sum over the k*k taps of strided slices times a matrix."""
    k = kernel.shape[0]
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out_h, out_w = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[3]))
    for dy in range(k):
        for dx in range(k):
            patch = x[:, dy : dy + stride * (out_h - 1) + 1 : stride]
            patch = patch[:, :, dx : dx + stride * (out_w - 1) + 1 : stride]
            out += patch @ kernel[dy, dx]
    return out + bias


def _upsample_to(x, h, w):
    """Nearest 2x upsampling (each pixel repeated twice), then cropped to ``h x w`` or its
    last row/column repeated up to it."""
    up = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)[:, :h, :w]
    return np.pad(up, ((0, 0), (0, h - up.shape[1]), (0, w - up.shape[2]), (0, 0)), mode="edge")


def _reference_fpn(model, features, min_level, max_level, extra):
    weights = {
        layer.name: [w.astype(np.float64) for w in layer.get_weights()] for layer in model.layers
    }
    c = {int(k[1:]): v.astype(np.float64) for k, v in features.items()}
    top = min(max_level, max(c))
    lateral = {lv: _conv(c[lv], *weights[f"fpn_lateral{lv}"]) for lv in range(min_level, top + 1)}
    merged = {top: lateral[top]}
    for lv in range(top - 1, min_level - 1, -1):
        merged[lv] = lateral[lv] + _upsample_to(merged[lv + 1], *lateral[lv].shape[1:3])
    p = {lv: _conv(merged[lv], *weights[f"fpn_output{lv}"], pad=1) for lv in merged}
    for lv in range(top + 1, max_level + 1):
        if extra == "pool":
            p[lv] = p[lv - 1][:, ::2, ::2]  # max over a 1x1 window, stride 2
            continue
        if lv > top + 1:
            source = np.maximum(p[lv - 1], 0)
        else:
            source = c[top] if extra == "conv_c5" else p[top]
        p[lv] = _conv(source, *weights[f"fpn_extra{lv}"], stride=2, pad=1)
    return {f"P{lv}": v for lv, v in p.items()}


# Feature sizes of a "same"-padded backbone (ResNet: ceil halving) and a valid-pooled one
# (VGG: floor halving), both from a 9x11 C2.
CEIL = {"C2": (9, 11, 3), "C3": (5, 6, 4), "C4": (3, 3, 5), "C5": (2, 2, 6)}
FLOOR = {"C2": (9, 11, 3), "C3": (4, 5, 4), "C4": (2, 2, 5), "C5": (1, 1, 6)}


def _neck_model(shapes, **options):
    inputs = {k: keras.Input(s, name=k) for k, s in shapes.items()}
    return keras.Model(inputs, fpn_neck(inputs, **options))


def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])


def _features(shapes, batch=2, seed=1):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=(batch, *s)).astype(np.float32) for k, s in shapes.items()}


@pytest.mark.parametrize("shapes", [CEIL, FLOOR], ids=["ceil", "floor"])
@pytest.mark.parametrize("extra", EXTRA_LEVELS)
def test_top_down_pathway_and_extra_levels_equal_the_numpy_reference(shapes, extra):
    options = {"channels": 3, "min_level": 2, "max_level": 7, "extra_levels": extra}
    model = _neck_model(shapes, **options)
    _randomise(model)
    features = _features(shapes)
    got = model(features)
    want = _reference_fpn(model, features, 2, 7, extra)
    assert sorted(got) == sorted(want) == [f"P{lv}" for lv in range(2, 8)]
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-4, err_msg=key)
    graph = tf.function(lambda f: model(f))({k: tf.constant(v) for k, v in features.items()})
    for key in want:
        np.testing.assert_allclose(graph[key], got[key], atol=FLOAT32_ATOL)


@pytest.mark.parametrize(
    "min_level, max_level, extra, keys",
    [
        (3, 4, "pool", ["P3", "P4"]),  # a subset: C2 and C5 unused
        (3, 7, "conv_c5", ["P3", "P4", "P5", "P6", "P7"]),  # RetinaNet
        (4, 5, "pool", ["P4", "P5"]),
        (5, 5, "pool", ["P5"]),
    ],
)
def test_level_subsets_equal_the_reference(min_level, max_level, extra, keys):
    options = {"channels": 2, "min_level": min_level, "max_level": max_level}
    model = _neck_model(CEIL, extra_levels=extra, **options)
    _randomise(model, seed=3)
    features = _features(CEIL, seed=4)
    got = model(features)
    assert sorted(got) == keys
    want = _reference_fpn(model, features, min_level, max_level, extra)
    for key in keys:
        np.testing.assert_allclose(got[key], want[key], atol=1e-4, err_msg=key)


@pytest.mark.parametrize("name", ["resnet18", "vgg11"])
@pytest.mark.parametrize("size", [(64, 64), (70, 90)])
@pytest.mark.parametrize("extra, max_level", [("pool", 6), ("conv_c5", 7)])
def test_levels_have_stride_two_to_the_level(name, size, extra, max_level):
    backbone = build(name, input_shape=(*size, 3), features=True)
    model = build_fpn(backbone, channels=4, max_level=max_level, extra_levels=extra)
    c = backbone(np.zeros((1, *size, 3), np.float32))
    p = model(np.zeros((1, *size, 3), np.float32))
    assert sorted(p) == [f"P{lv}" for lv in range(2, max_level + 1)]
    for level in range(2, max_level + 1):
        shape = tuple(p[f"P{level}"].shape)
        assert shape[0] == 1 and shape[3] == 4
        stride = 2**level
        for length, axis in zip(size, (1, 2), strict=True):
            # stride 2**l: floor or ceil of the input size over it, whatever the rounding
            assert length // stride <= shape[axis] <= -(-length // stride), (level, shape)
            if level <= 5:
                assert shape[axis] == c[f"C{level}"].shape[axis]
            else:
                assert shape[axis] == -(-p[f"P{level - 1}"].shape[axis] // 2)


@pytest.fixture(scope="module")
def resnet18():
    """One ImageNet-style ResNet-18 feature extractor at 64x64, shared (not trained) by the
    tests below: each builds its own FPN on it."""
    return build("resnet18", input_shape=(64, 64, 3), features=True)


def _neck_params(widths, channels, extra, max_level=6):
    """Lateral 1x1 (C_in * ch + ch) and output 3x3 (9 ch^2 + ch) per backbone level, plus the
    extra stride-2 3x3 convolutions (the first reading C5's or P5's width)."""
    count = sum(c * channels + channels for c in widths)
    count += len(widths) * (9 * channels * channels + channels)
    for i in range(max_level - 5):
        if extra == "pool":
            continue
        c_in = widths[-1] if extra == "conv_c5" and i == 0 else channels
        count += 9 * c_in * channels + channels
    return count


@pytest.mark.parametrize("extra, max_level", [("pool", 6), ("conv_c5", 7), ("conv_p5", 7)])
def test_parameter_count_equals_the_formula(extra, max_level, resnet18):
    backbone = resnet18
    model = build_fpn(backbone, channels=16, max_level=max_level, extra_levels=extra)
    neck = model.count_params() - backbone.count_params()
    assert neck == _neck_params((64, 128, 256, 512), 16, extra, max_level)


def test_resnet50_fpn_has_torchvisions_count():
    """torchvision's ``FeaturePyramidNetwork([256, 512, 1024, 2048], 256)``: 3,344,384."""
    shapes = {
        f"C{lv}": (None, None, c) for lv, c in zip(range(2, 6), (256, 512, 1024, 2048), strict=True)
    }
    model = _neck_model(shapes, channels=256, max_level=6, extra_levels="pool")
    assert model.count_params() == 3_344_384 == _neck_params((256, 512, 1024, 2048), 256, "pool")


def test_every_variable_gets_a_gradient_and_the_model_round_trips(tmp_path, resnet18):
    model = build_fpn(resnet18, channels=8, min_level=2, max_level=7, extra_levels="conv_c5")
    x = tf.random.uniform((2, 64, 64, 3), seed=1)
    with tf.GradientTape() as tape:
        outputs = model(x, training=True)
        loss = sum(tf.reduce_mean(tf.square(v - 0.1 * i)) for i, v in enumerate(outputs.values()))
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads, strict=True) if g is None]
    assert not missing, missing
    assert all(np.all(np.isfinite(g)) for g in grads)
    path = str(tmp_path / "fpn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    want, got = model(x), loaded(x)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-4)


def test_frozen_backbone_leaves_only_the_neck_trainable():
    backbone = build("vgg11", input_shape=(64, 64, 3), features=True)
    model = build_fpn(backbone, channels=4)
    backbone.trainable = False
    assert len(model.trainable_variables) == 2 * 4 * 2  # (kernel, bias) x 4 levels x 2 convs


def test_exports_to_builtin_tflite(tmp_path, resnet18):
    fpn = build_fpn(resnet18, channels=16)
    outputs = fpn(fpn.inputs[0])
    listed = keras.Model(fpn.inputs[0], [outputs[k] for k in sorted(outputs)])
    x = np.random.default_rng(0).uniform(0, 1, (1, 64, 64, 3)).astype(np.float32)
    got = run_exported(listed, x, tmp_path, atol=1e-4)
    assert [g.shape[1] for g in got] == [16, 8, 4, 2, 1]


# --- one level convention: anchors and RoI pooling take the neck's output as it is ----------


def test_anchors_and_multilevel_roi_align_take_the_neck_output_keys(resnet18):
    fpn = build_fpn(resnet18, channels=4, min_level=2, max_level=6)
    images = np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    pyramid = fpn(images)
    anchors = pyramid_anchors(64, 64, levels=fpn.output, scales=(1.0,))
    assert list(anchors) == ["P2", "P3", "P4", "P5", "P6"] and set(pyramid) == set(anchors)
    for key, fmap in pyramid.items():  # one anchor per location and shape of every map
        assert anchors[key].shape == (fmap.shape[1] * fmap.shape[2] * 3, 4), key
    rois = np.array([[0, 2, 3, 12, 14], [1, 0, 0, 63, 63], [1, 10, 20, 40, 30]], np.float32)
    pooled = multilevel_roi_align(pyramid, rois, 2, canonical_size=32)
    assert pooled.shape == (3, 2, 2, 4)
    np.testing.assert_allclose(
        MultiLevelRoIAlign(2, canonical_size=32)((pyramid, rois)), pooled, atol=FLOAT32_ATOL
    )
    # and inside one graph: images and RoIs in, pooled features out
    rois_input = keras.Input((5,), name="rois")
    outputs = MultiLevelRoIAlign(2, canonical_size=32)((fpn(fpn.inputs[0]), rois_input))
    pooler = keras.Model([fpn.inputs[0], rois_input], outputs)
    np.testing.assert_allclose(pooler([images, rois]), pooled, atol=FLOAT32_ATOL)


# --- the upsampling layer ---------------------------------------------------------------------


@pytest.mark.parametrize("like_size", [(6, 8), (5, 7), (7, 9), (6, 7)])
def test_nearest_upsample_like_equals_repeat_then_crop_or_pad(like_size, tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    like = np.zeros((2, *like_size, 1), np.float32)
    layer = NearestUpsampleLike(2)
    np.testing.assert_array_equal(layer([x, like]), _upsample_to(x, *like_size))
    if like_size == (6, 8):
        np.testing.assert_array_equal(layer([x, like]), keras.layers.UpSampling2D(2)(x))
    check_list_layer(layer, [x, like], tmp_path)


def test_nearest_upsample_like_handles_unknown_sizes():
    layer = NearestUpsampleLike(3)
    spec = tf.TensorSpec([None, None, None, None])
    fn = tf.function(lambda a, b: layer([a, b]), input_signature=[spec, spec])
    x = tf.reshape(tf.range(6.0), (1, 2, 3, 1))
    got = fn(x, tf.zeros((1, 5, 7, 1)))[0, ..., 0].numpy()
    rows, cols = np.minimum(np.arange(5) // 3, 1), np.minimum(np.arange(7) // 3, 2)
    np.testing.assert_array_equal(got, x.numpy()[0, ..., 0][rows][:, cols])


# --- argument checks --------------------------------------------------------------------------


def _symbolic(shapes):
    return {k: keras.Input(s) for k, s in shapes.items()}


@pytest.mark.parametrize(
    "options, match",
    [
        ({"channels": 0}, "channels"),
        ({"channels": 2.5}, "channels"),
        ({"channels": True}, "channels"),
        ({"min_level": 5, "max_level": 4}, "min_level must be <= max_level"),
        ({"min_level": 0}, "min_level"),
        ({"extra_levels": "maxpool"}, "extra_levels must be one of pool, conv_c5, conv_p5"),
        ({"min_level": 1}, "'C1'"),
    ],
)
def test_bad_arguments_are_refused_by_name(options, match):
    with pytest.raises(ValueError, match=match):
        fpn_neck(_symbolic(CEIL), **options)


def test_missing_and_misshapen_levels_are_refused():
    shapes = {k: v for k, v in CEIL.items() if k != "C3"}
    with pytest.raises(ValueError, match=r"\['C3'\]"):
        fpn_neck(_symbolic(shapes))
    with pytest.raises(ValueError, match="half the spatial size"):
        fpn_neck(_symbolic({**CEIL, "C3": (9, 11, 4)}))
    with pytest.raises(ValueError, match="dict of feature maps"):
        fpn_neck([keras.Input((4, 4, 3))])
    classifier = build("resnet18", 10, (32, 32, 3))
    with pytest.raises(ValueError, match="features=True"):
        build_fpn(classifier)
    with pytest.raises(ValueError, match="scale"):
        NearestUpsampleLike(0)
