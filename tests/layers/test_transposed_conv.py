import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from tests.layer_checks import check_layer
from tests.tflite_checks import run_exported
from yeehaw_tf.layers.transposed_conv import TransposedConv2D, transposed_conv2d


def _paint_reference(x, kernel, bias, strides, padding):
    """The notes' definition in float64: input pixel (y, x) paints kernel[i, j] @ x[b, y, x] at
    (y * s + i, x * s + j) of the full canvas, overlaps summed; then the canvas is cut to the
    Keras output size, dropping max(k - s, 0) // 2 leading rows for 'same'."""
    x, kernel = x.astype(np.float64), kernel.astype(np.float64)
    batch, h, w, _ = x.shape
    kh, kw, filters, _ = kernel.shape
    sh, sw = strides
    full = np.zeros((batch, (h - 1) * sh + kh, (w - 1) * sw + kw, filters))
    for b in range(batch):
        for y in range(h):
            for xx in range(w):
                for i in range(kh):
                    for j in range(kw):
                        full[b, y * sh + i, xx * sw + j] += kernel[i, j] @ x[b, y, xx]
    if padding == "same":
        out_h, out_w = h * sh, w * sw
        top, left = max(kh - sh, 0) // 2, max(kw - sw, 0) // 2
    else:
        out_h, out_w = (h - 1) * sh + max(kh, sh), (w - 1) * sw + max(kw, sw)
        top, left = 0, 0
    # the canvas can be shorter than the output when k < s: the tail is zero
    full = np.pad(full, [(0, 0), (0, sh), (0, sw), (0, 0)])
    return full[:, top : top + out_h, left : left + out_w] + bias


def _pair_of_layers(filters, kernel_size, strides, padding, channels, rng):
    """Ours and keras.layers.Conv2DTranspose with the same (random) weights."""
    keras_layer = keras.layers.Conv2DTranspose(filters, kernel_size, strides, padding)
    keras_layer.build((None, None, None, channels))
    weights = [rng.normal(size=v.shape).astype(np.float32) for v in keras_layer.weights]
    keras_layer.set_weights(weights)
    ours = TransposedConv2D(filters, kernel_size, strides, padding)
    ours.build((None, None, None, channels))
    ours.set_weights(weights)  # the same layout: (kh, kw, filters, in_channels)
    return ours, keras_layer


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_equals_keras_conv2d_transpose_and_the_painting_loop(stride, kernel, padding):
    rng = np.random.default_rng(stride * 100 + kernel)
    x = rng.normal(size=(2, 3, 5, 3)).astype(np.float32)  # non-square
    ours, keras_layer = _pair_of_layers(4, kernel, stride, padding, 3, rng)
    got, want = ours(x).numpy(), keras_layer(x).numpy()
    assert got.shape == want.shape
    assert got.shape == ours.compute_output_shape(x.shape)
    np.testing.assert_allclose(got, want, atol=FLOAT32_ATOL)
    reference = _paint_reference(x, *ours.get_weights(), (stride, stride), padding)
    np.testing.assert_allclose(got, reference, atol=FLOAT32_ATOL)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_non_square_kernel_and_strides_and_gradients_match_keras(padding):
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(2, 4, 3, 2)).astype(np.float32))
    ours, keras_layer = _pair_of_layers(3, (2, 5), (3, 2), padding, 2, rng)
    upstream = None
    results = []
    for layer in (ours, keras_layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            if upstream is None:
                upstream = tf.constant(rng.normal(size=y.shape).astype(np.float32))
            loss = tf.reduce_sum(y * upstream)
        results.append((y, *tape.gradient(loss, [x, *layer.trainable_weights])))
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4)
    reference = _paint_reference(x.numpy(), *ours.get_weights(), (3, 2), padding)
    np.testing.assert_allclose(results[0][0], reference, atol=FLOAT32_ATOL)


def test_one_input_pixel_paints_the_scaled_filter():
    kernel = np.arange(1.0, 10.0, dtype=np.float32).reshape(3, 3, 1, 1)
    x = np.zeros((1, 2, 2, 1), np.float32)
    x[0, 1, 0, 0] = 2.0
    y = transposed_conv2d(x, kernel, (2, 2), "valid").numpy()[0, :, :, 0]
    expected = np.zeros((5, 5))
    expected[2:5, 0:3] = 2.0 * kernel[:, :, 0, 0]
    np.testing.assert_array_equal(y, expected)


def test_dynamic_batch_and_spatial_sizes():
    rng = np.random.default_rng(2)
    ours, keras_layer = _pair_of_layers(2, 3, 2, "same", 3, rng)
    graph = tf.function(ours, input_signature=[tf.TensorSpec((None, None, None, 3))])
    for shape in [(1, 3, 4, 3), (3, 5, 2, 3)]:
        x = rng.normal(size=shape).astype(np.float32)
        np.testing.assert_allclose(graph(x), keras_layer(x), atol=FLOAT32_ATOL)
    assert ours.compute_output_shape((None, None, 7, 3)) == (None, None, 14, 2)


def test_layer_contract(tmp_path):
    layer = TransposedConv2D(3, (3, 2), strides=2, padding="same", activation="relu")
    x = np.random.default_rng(3).normal(size=(2, 3, 4, 2)).astype(np.float32)
    check_layer(layer, x, tmp_path)


def test_exports_to_builtin_tflite(tmp_path):
    inputs = keras.Input((5, 6, 3))
    x = TransposedConv2D(4, 3, strides=2, padding="same")(inputs)
    x = TransposedConv2D(2, (2, 3), strides=(3, 1), padding="valid")(x)
    model = keras.Model(inputs, x)
    x = np.random.default_rng(4).normal(size=(2, 5, 6, 3)).astype(np.float32)
    run_exported(model, x, tmp_path, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"filters": 0, "kernel_size": 3}, "filters"),
        ({"filters": 2, "kernel_size": (3, 0)}, "kernel_size"),
        ({"filters": 2, "kernel_size": (3, 3, 3)}, "kernel_size"),
        ({"filters": 2, "kernel_size": 3, "strides": 0}, "strides"),
        ({"filters": 2, "kernel_size": 3, "padding": "full"}, "padding"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        TransposedConv2D(**kwargs)
