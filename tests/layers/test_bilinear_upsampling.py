import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from tests.layer_checks import check_layer, check_list_layer
from tests.tflite_checks import run_exported
from yeehaw_tf.layers.bilinear_upsampling import BilinearUpsampling2D, ResizeLike


def _bilinear_reference(x, out_h, out_w, align_corners):
    """float64 loops from the definition: each output pixel samples the input at a real-valued
    coordinate (half-pixel centres, clamped; or corner-aligned) and mixes its 4 neighbours."""
    x = x.astype(np.float64)
    _, h, w, _ = x.shape

    def source(o, out, size):
        if align_corners:
            return o * (size - 1) / (out - 1) if out > 1 else 0.0
        return min(max((o + 0.5) * size / out - 0.5, 0.0), size - 1)

    out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]))
    for oy in range(out_h):
        for ox in range(out_w):
            sy, sx = source(oy, out_h, h), source(ox, out_w, w)
            y0, x0 = int(np.floor(sy)), int(np.floor(sx))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            fy, fx = sy - y0, sx - x0
            top = (1 - fx) * x[:, y0, x0] + fx * x[:, y0, x1]
            bottom = (1 - fx) * x[:, y1, x0] + fx * x[:, y1, x1]
            out[:, oy, ox] = (1 - fy) * top + fy * bottom
    return out


@pytest.mark.parametrize("size", [2, 3, (2, 3)])
def test_equals_keras_upsampling_tf_resize_and_the_loop(size):
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 3, 4, 2)).astype(np.float32))
    ours = BilinearUpsampling2D(size)
    keras_layer = keras.layers.UpSampling2D(size, interpolation="bilinear")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        got, want = ours(x), keras_layer(x)
        upstream = np.random.default_rng(1).normal(size=got.shape).astype(np.float32)
        loss_ours, loss_keras = tf.reduce_sum(got * upstream), tf.reduce_sum(want * upstream)
    assert got.shape == want.shape == ours.compute_output_shape(x.shape)
    np.testing.assert_allclose(got, want, atol=FLOAT32_ATOL)
    np.testing.assert_allclose(got, tf.image.resize(x, got.shape[1:3]), atol=FLOAT32_ATOL)
    reference = _bilinear_reference(x.numpy(), *got.shape[1:3], align_corners=False)
    np.testing.assert_allclose(got, reference, atol=FLOAT32_ATOL)
    grad_ours, grad_keras = tape.gradient(loss_ours, x), tape.gradient(loss_keras, x)
    np.testing.assert_allclose(grad_ours, grad_keras, atol=FLOAT32_ATOL)


def test_align_corners_keeps_the_corner_pixels():
    x = np.random.default_rng(2).normal(size=(1, 3, 4, 2)).astype(np.float32)
    got = BilinearUpsampling2D((2, 3), align_corners=True)(x).numpy()
    legacy = tf.compat.v1.image.resize_bilinear(x, (6, 12), align_corners=True)
    np.testing.assert_allclose(got, legacy, atol=FLOAT32_ATOL)
    np.testing.assert_allclose(got, _bilinear_reference(x, 6, 12, True), atol=FLOAT32_ATOL)
    np.testing.assert_allclose(got[:, [0, -1]][:, :, [0, -1]], x[:, [0, -1]][:, :, [0, -1]])


def test_resize_like_matches_the_reference_size():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    like = rng.normal(size=(2, 7, 5, 6)).astype(np.float32)  # not an integer factor
    got = ResizeLike()([x, like])
    assert got.shape == (2, 7, 5, 2) == ResizeLike().compute_output_shape([x.shape, like.shape])
    np.testing.assert_allclose(got, tf.image.resize(x, (7, 5)), atol=FLOAT32_ATOL)
    np.testing.assert_allclose(got, _bilinear_reference(x, 7, 5, False), atol=FLOAT32_ATOL)


def test_dynamic_batch_and_spatial_sizes():
    up, resize_like = BilinearUpsampling2D(2), ResizeLike()

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 2))] * 2)
    def both(x, like):
        return up(x), resize_like([x, like])

    rng = np.random.default_rng(4)
    for shape in [(1, 2, 3, 2), (3, 4, 2, 2)]:
        x, like = rng.normal(size=(2, *shape)).astype(np.float32)
        upsampled, resized = both(x, like)
        np.testing.assert_allclose(upsampled, tf.image.resize(x, (shape[1] * 2, shape[2] * 2)))
        np.testing.assert_allclose(resized, x, atol=FLOAT32_ATOL)  # same size: identity
    assert up.compute_output_shape((None, None, 5, 2)) == (None, None, 10, 2)


def test_layer_contract(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    check_layer(BilinearUpsampling2D((2, 3)), x, tmp_path)
    check_layer(BilinearUpsampling2D(2, align_corners=True), x, tmp_path)
    like = rng.normal(size=(2, 5, 7, 1)).astype(np.float32)
    check_list_layer(ResizeLike(align_corners=True), [x, like], tmp_path)


def test_exports_to_builtin_tflite(tmp_path):
    inputs = keras.Input((3, 4, 2))
    half_pixel = BilinearUpsampling2D(2)(inputs)
    corners = BilinearUpsampling2D((3, 2), align_corners=True)(inputs)
    model = keras.Model(inputs, [half_pixel, ResizeLike()([corners, half_pixel])])
    x = np.random.default_rng(6).normal(size=(2, 3, 4, 2)).astype(np.float32)
    run_exported(model, x, tmp_path)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: BilinearUpsampling2D(0), "size"),
        (lambda: BilinearUpsampling2D(2.5), "size"),
        (lambda: BilinearUpsampling2D(2, align_corners="yes"), "align_corners"),
        (lambda: ResizeLike(align_corners=1), "align_corners"),
    ],
)
def test_bad_arguments_are_named(make, name):
    with pytest.raises(ValueError, match=name):
        make()
