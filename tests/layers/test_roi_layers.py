"""RoIPool, RoIAlign and MultiLevelRoIAlign layers: the layer contract for two-input layers
(config round trip, eager == graph, .keras save/load in safe mode, declared output shape) and
export to builtin-only TFLite. The numerics are tested on the ops (tests/ops/test_roi.py)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from tests.tflite_checks import run_exported
from yeehaw_tf.layers.roi import MultiLevelRoIAlign, RoIAlign, RoIPool
from yeehaw_tf.ops.roi import (
    assign_fpn_levels,
    multilevel_roi_align,
    roi_align,
    roi_pool,
)
from yeehaw_tf.ops.roi.costs import gathers_are_cheaper


def _data(seed=0, batch=2, height=6, width=7, channels=3, n=9):
    """A 1/4-scale feature map and image-pixel RoIs, some partly outside, one tiny."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, height, width, channels)).astype(np.float32)
    xy = rng.uniform(-8, 4 * width - 4, (n, 2))
    wh = rng.uniform(0.5, 20, (n, 2))
    rois = np.concatenate([rng.integers(0, batch, (n, 1)), xy, xy + wh], axis=1)
    return features, rois.astype(np.float32)


def _pyramid(seed=1, batch=2, size=32, channels=2, n=10):
    rng = np.random.default_rng(seed)
    maps = [
        rng.normal(size=(batch, size >> level, size >> level, channels)).astype(np.float32)
        for level in (2, 3, 4)
    ]
    side = np.exp(rng.uniform(np.log(2), np.log(30), (n, 2))) * size / 32
    xy = rng.uniform(-3, size - 3, (n, 2))
    rois = np.concatenate([rng.integers(0, batch, (n, 1)), xy, xy + side], axis=1)
    return maps, rois.astype(np.float32)


def _functional(layer, features, rois):
    feature_inputs = [
        keras.Input(f.shape[1:], name=f"features_{i}") for i, f in enumerate(features)
    ]
    rois_input = keras.Input((5,), name="rois")
    if isinstance(layer, MultiLevelRoIAlign):
        pyramid = {f"P{i + 2}": t for i, t in enumerate(feature_inputs)}
        output = layer((pyramid, rois_input))
    else:
        output = layer((feature_inputs[0], rois_input))
    return keras.Model([*feature_inputs, rois_input], output)


def check_two_input_layer(layer, features: list, rois, tmp_path):
    """``tests.layer_checks.check_layer`` for a layer called on ``(features, rois)``:
    ``features`` is a list of maps (one, or a pyramid for levels 2, 3, ...)."""

    def call(layer, features, rois):
        if isinstance(layer, MultiLevelRoIAlign):
            return layer(({f"P{i + 2}": f for i, f in enumerate(features)}, rois))
        return layer((features[0], rois))

    expected = keras.ops.convert_to_numpy(call(layer, features, rois))
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(call(clone, features, rois).numpy(), expected, atol=FLOAT32_ATOL)

    graph = tf.function(lambda f, r: call(layer, f, r))([tf.constant(f) for f in features], rois)
    np.testing.assert_allclose(graph.numpy(), expected, atol=FLOAT32_ATOL)

    model = _functional(layer, features, rois)
    path = os.path.join(str(tmp_path), "layer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded([*features, rois]).numpy(), expected, atol=FLOAT32_ATOL)
    assert loaded.layers[-1].get_config() == layer.get_config()

    # no weights, so the gradient check is that one reaches every feature map (none is lost
    # in the pooling: each map has pixels under some RoI here)
    watched = [tf.constant(f) for f in features]
    with tf.GradientTape() as tape:
        tape.watch(watched)
        loss = tf.reduce_sum(tf.cos(call(layer, watched, rois)))
    for grad in tape.gradient(loss, watched):
        assert grad is not None and np.all(np.isfinite(grad)) and np.abs(grad).max() > 0

    shapes = [f.shape for f in features]
    feature_shapes = {f"P{i + 2}": s for i, s in enumerate(shapes)}
    first = feature_shapes if isinstance(layer, MultiLevelRoIAlign) else shapes[0]
    assert layer.compute_output_shape((first, rois.shape)) == expected.shape
    return model


@pytest.mark.parametrize("height, width", [(6, 7), (40, 44)])  # a matmul path, the gathers
def test_roi_align_layer(tmp_path, height, width):
    features, rois = _data(height=height, width=width)
    assert gathers_are_cheaper([(None, *features.shape[1:])], 3, 2, 2) == (height > 6)
    layer = RoIAlign((3, 2), spatial_scale=0.25, sampling_ratio=2, aligned=True)
    model = check_two_input_layer(layer, [features], rois, tmp_path)
    want = roi_align(features, rois, (3, 2), 0.25, 2, True)
    np.testing.assert_allclose(model([features, rois]).numpy(), want.numpy(), atol=FLOAT32_ATOL)
    run_exported(model, [features, rois], tmp_path)


def test_roi_align_layer_with_adaptive_sampling_exports(tmp_path):
    features, rois = _data(1)
    rois[0] = [1, -60.0, -50.0, 70.0, 45.0]  # ceil(130 / 4 / 2) = 17 samples a bin side
    layer = RoIAlign(2, spatial_scale=0.25, sampling_ratio=0)
    model = check_two_input_layer(layer, [features], rois, tmp_path)
    got = run_exported(model, [features, rois], tmp_path)[0]
    np.testing.assert_allclose(got, roi_align(features, rois, 2, 0.25, 0).numpy(), atol=1e-5)


def test_roi_pool_layer(tmp_path):
    features, rois = _data(2)
    layer = RoIPool((2, 3), spatial_scale=0.25)
    model = check_two_input_layer(layer, [features], rois, tmp_path)
    got = run_exported(model, [features, rois], tmp_path)[0]
    np.testing.assert_allclose(got, roi_pool(features, rois, (2, 3), 0.25).numpy(), atol=1e-6)


@pytest.mark.parametrize("size", [32, 128])  # a matmul per level, one gather pass
def test_multilevel_roi_align_layer(tmp_path, size):
    maps, rois = _pyramid(size=size)
    shapes = [(None, *m.shape[1:]) for m in maps]
    assert gathers_are_cheaper(shapes, 2, 2, 2) == (size > 32)
    canonical = size / 4  # RoIs and canonical size grow with the image: every level is used
    layer = MultiLevelRoIAlign((2, 2), sampling_ratio=2, aligned=True, canonical_size=canonical)
    levels = assign_fpn_levels(rois[:, 1:], 2, 4, canonical_size=canonical).numpy()
    assert set(levels) == {2, 3, 4}
    model = check_two_input_layer(layer, maps, rois, tmp_path)
    pyramid = {f"P{level}": m for level, m in zip((2, 3, 4), maps, strict=True)}
    want = multilevel_roi_align(pyramid, rois, 2, 2, True, canonical_size=canonical).numpy()
    got = run_exported(model, [*maps, rois], tmp_path)[0]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_roi_coordinates_are_not_cast_to_float16_under_mixed_precision():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    features = np.random.default_rng(3).normal(size=(1, 40, 40, 2)).astype(np.float16)
    rois = np.array([[0, 1000.3, 1001.7, 1090.1, 1130.9]], np.float32)  # float16: 1000, 1002
    layer = RoIAlign(2, spatial_scale=1 / 32, sampling_ratio=2)
    got = layer((features, rois))
    assert got.dtype == tf.float16
    want = roi_align(features.astype(np.float32), rois, 2, 1 / 32, 2).numpy()
    np.testing.assert_allclose(got.numpy().astype(np.float32), want, atol=5e-3)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="output_size"):
        RoIAlign(0)
    with pytest.raises(ValueError, match="output_size"):
        RoIPool((7, 0))
    with pytest.raises(ValueError, match="spatial_scale"):
        RoIAlign(7, spatial_scale=0)
    with pytest.raises(ValueError, match="spatial_scale"):
        RoIPool(7, spatial_scale=-1.0)
    with pytest.raises(ValueError, match="sampling_ratio"):
        RoIAlign(7, sampling_ratio=2.0)
    with pytest.raises(ValueError, match="canonical_size"):
        MultiLevelRoIAlign(7, canonical_size=0)
    features, rois = _data()
    with pytest.raises(ValueError, match="pair"):
        RoIAlign(2)(features)
    with pytest.raises(ValueError, match=r"rois must have shape \[K, 5\]"):
        RoIAlign(2)((features, rois[:, 1:]))
    with pytest.raises(ValueError, match=r"features must have shape \[B, H, W, C\]"):
        RoIPool(2)((features[0], rois))
