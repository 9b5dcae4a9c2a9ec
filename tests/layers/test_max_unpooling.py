import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from tests.layer_checks import check_layer, check_list_layer
from tests.tflite_checks import run_exported
from yeehaw_tf.layers.max_unpooling import (
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    max_pool_with_argmax,
    max_unpool,
)

# (input shape, pool, strides, padding): odd sizes, overlapping and non-square windows
CASES = [
    ((2, 4, 6, 3), (2, 2), (2, 2), "valid"),
    ((2, 5, 7, 2), (2, 2), (2, 2), "valid"),
    ((2, 5, 7, 2), (2, 2), (2, 2), "same"),
    ((1, 5, 6, 2), (3, 3), (2, 2), "valid"),
    ((1, 5, 6, 2), (3, 3), (2, 2), "same"),
    ((2, 4, 5, 1), (2, 3), (1, 2), "same"),
    ((1, 6, 4, 2), (3, 2), (3, 1), "valid"),
]


def _pool_reference(x, pool, strides, padding):
    """float64 loops: for each window (TF's SAME padding, padded cells skipped) the first
    maximum in row-major order, and its flat index (y * W + x) * C + c."""
    batch, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        top = max((oh - 1) * sh + ph - h, 0) // 2
        left = max((ow - 1) * sw + pw - w, 0) // 2
    else:
        oh, ow, top, left = (h - ph) // sh + 1, (w - pw) // sw + 1, 0, 0
    pooled, argmax = np.zeros((batch, oh, ow, c)), np.zeros((batch, oh, ow, c), np.int64)
    for b, oy, ox, ch in np.ndindex(batch, oh, ow, c):
        best = None
        for i, j in np.ndindex(ph, pw):
            y, xx = oy * sh - top + i, ox * sw - left + j
            if 0 <= y < h and 0 <= xx < w and (best is None or x[b, y, xx, ch] > best):
                best, index = float(x[b, y, xx, ch]), (y * w + xx) * c + ch
        pooled[b, oy, ox, ch], argmax[b, oy, ox, ch] = best, index
    return pooled, argmax


def _unpool_reference(values, argmax, out_shape):
    values, argmax = np.asarray(values), np.asarray(argmax)
    out = np.zeros(out_shape)
    flat = out.reshape(out_shape[0], -1)
    for b, index in enumerate(argmax.reshape(argmax.shape[0], -1)):
        np.add.at(flat[b], index, values[b].reshape(-1).astype(np.float64))
    return out


def _tied(shape, seed):
    """Small integers: most windows hold equal maxima."""
    return np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.float32)


def test_tensorflow_breaks_ties_by_the_first_maximum_in_row_major_order():
    # the convention we copy, checked on TF itself: all four cells equal -> the top-left
    x = np.ones((1, 2, 2, 1), np.float32)
    _, argmax = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", include_batch_in_index=False)
    assert argmax.numpy().ravel().tolist() == [0]
    x = np.array([[0, 5], [5, 5]], np.float32).reshape(1, 2, 2, 1)
    _, argmax = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", include_batch_in_index=False)
    assert argmax.numpy().ravel().tolist() == [1]
    assert max_pool_with_argmax(x, 2)[1].numpy().ravel().tolist() == [1]


@pytest.mark.parametrize("shape, pool, strides, padding", CASES)
def test_pool_equals_tf_max_pool_with_argmax_and_the_loop(shape, pool, strides, padding):
    for x in (_tied(shape, 0), np.random.default_rng(1).normal(size=shape).astype(np.float32)):
        pooled, argmax = max_pool_with_argmax(x, pool, strides, padding)
        assert argmax.dtype == tf.int64
        tf_pooled, tf_argmax = tf.nn.max_pool_with_argmax(
            x, pool, strides, padding.upper(), include_batch_in_index=False
        )
        np.testing.assert_array_equal(pooled, tf_pooled)
        np.testing.assert_array_equal(argmax, tf_argmax)
        ref_pooled, ref_argmax = _pool_reference(x, pool, strides, padding)
        np.testing.assert_array_equal(pooled, ref_pooled)
        np.testing.assert_array_equal(argmax, ref_argmax)


@pytest.mark.parametrize("shape, pool, strides, padding", CASES)
def test_pooled_gradient_reaches_the_argmax_like_tf_max_pool(shape, pool, strides, padding):
    x = tf.constant(_tied(shape, 2))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = max_pool_with_argmax(x, pool, strides, padding)[0]
        theirs = tf.nn.max_pool2d(x, pool, strides, padding.upper())
        upstream = tf.constant(np.random.default_rng(3).normal(size=ours.shape), tf.float32)
        loss_ours, loss_theirs = tf.reduce_sum(ours * upstream), tf.reduce_sum(theirs * upstream)
    grad = tape.gradient(loss_ours, x)
    np.testing.assert_allclose(grad, tape.gradient(loss_theirs, x), atol=FLOAT32_ATOL)
    # and it is the unpooling of the upstream gradient: the adjoint of the selection
    argmax = max_pool_with_argmax(x, pool, strides, padding)[1].numpy()
    expected = _unpool_reference(upstream.numpy(), argmax, shape)
    np.testing.assert_allclose(grad, expected, atol=FLOAT32_ATOL)


@pytest.mark.parametrize("shape, pool, strides, padding", CASES)
def test_unpool_places_values_at_the_argmax_and_zeros_elsewhere(shape, pool, strides, padding):
    x = np.random.default_rng(4).normal(size=shape).astype(np.float32)
    _, argmax = max_pool_with_argmax(x, pool, strides, padding)
    values = tf.constant(np.random.default_rng(5).normal(size=argmax.shape).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(values)
        out = max_unpool(values, argmax, shape[1:3])
        upstream = np.random.default_rng(6).normal(size=shape).astype(np.float32)
        loss = tf.reduce_sum(out * upstream)
    expected = _unpool_reference(values.numpy(), argmax.numpy(), shape)
    np.testing.assert_allclose(out, expected, atol=FLOAT32_ATOL)
    assert np.count_nonzero(out) <= argmax.numpy().size
    # d loss / d values[b, ...] = upstream[b] at the value's position
    flat_upstream = upstream.reshape(shape[0], -1)
    gathered = np.stack([flat_upstream[b][argmax[b].numpy()] for b in range(shape[0])])
    np.testing.assert_allclose(tape.gradient(loss, values), gathered, atol=FLOAT32_ATOL)


def test_unpool_of_pool_keeps_each_window_maximum_in_place():
    x = np.random.default_rng(7).normal(size=(2, 5, 7, 3)).astype(np.float32)
    pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
    restored = MaxUnpooling2D(2)([pooled, argmax, x]).numpy()  # odd size: shape from `like`
    assert restored.shape == x.shape
    kept = restored != 0
    np.testing.assert_array_equal(restored[kept], x[kept])
    assert kept.sum() == pooled.numpy().size
    even = x[:, :4, :6]
    pooled, argmax = MaxPoolingWithArgmax2D(2)(even)
    restored = MaxUnpooling2D(2)([pooled, argmax]).numpy()  # even size: shape from `size`
    np.testing.assert_array_equal(restored, _unpool_reference(pooled.numpy(), argmax, even.shape))


def test_dynamic_batch_and_spatial_sizes():
    pool, unpool = MaxPoolingWithArgmax2D(3, strides=2, padding="same"), MaxUnpooling2D()

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 2))])
    def round_trip(x):
        pooled, argmax = pool(x)
        return pooled, argmax, unpool([pooled, argmax, x])

    for shape in [(1, 5, 4, 2), (3, 6, 7, 2)]:
        x = _tied(shape, 8)
        pooled, argmax, restored = round_trip(x)
        ref_pooled, ref_argmax = _pool_reference(x, (3, 3), (2, 2), "same")
        np.testing.assert_array_equal(pooled, ref_pooled)
        np.testing.assert_array_equal(argmax, ref_argmax)
        np.testing.assert_allclose(restored, _unpool_reference(ref_pooled, ref_argmax, shape))
    assert pool.compute_output_shape((None, None, 5, 2)) == ((None, None, 3, 2),) * 2
    assert unpool.compute_output_shape([(None, 2, 3, 4)] * 2) == (None, 4, 6, 4)
    assert unpool.compute_output_shape([(None, 2, 3, 4)] * 2 + [(None, 5, 7, 1)]) == (
        None,
        5,
        7,
        4,
    )


@keras.saving.register_keras_serializable(package="yeehaw_tf_tests")
class PoolUnpool(keras.layers.Layer):
    """Pool with argmax, then unpool to the input's size: both layers in one single-input,
    single-output layer, so the shared ``check_layer`` runs on them."""

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool = MaxPoolingWithArgmax2D(pool_size, strides, padding)
        self.unpool = MaxUnpooling2D(self.pool.strides)

    def build(self, input_shape):
        pooled_shape, argmax_shape = self.pool.compute_output_shape(input_shape)
        self.pool.build(input_shape)
        self.unpool.build([pooled_shape, argmax_shape, input_shape])

    def call(self, inputs):
        pooled, argmax = self.pool(inputs)
        return self.unpool([pooled * 2.0, argmax, inputs])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = self.pool.get_config()
        return {
            **super().get_config(),
            **{k: config[k] for k in ("pool_size", "strides", "padding")},
        }


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_layer_contract(padding, tmp_path):
    x = np.random.default_rng(9).normal(size=(2, 5, 7, 3)).astype(np.float32)
    check_layer(PoolUnpool(3, 2, padding), x, tmp_path)
    pool = MaxPoolingWithArgmax2D(3, strides=2, padding=padding)
    check_list_layer(pool, x, tmp_path)
    pooled, argmax = pool(x)
    check_list_layer(MaxUnpooling2D(2), [pooled.numpy(), argmax.numpy(), x], tmp_path)


def test_pool_conv_unpool_exports_to_builtin_tflite(tmp_path):
    inputs = keras.Input((5, 7, 3))
    pooled, argmax = MaxPoolingWithArgmax2D(2, padding="same")(inputs)
    features = keras.layers.Conv2D(3, 3, padding="same")(pooled)
    restored = MaxUnpooling2D(2)([features, argmax, inputs])
    model = keras.Model(inputs, [restored, argmax])
    run_exported(model, _tied((2, 5, 7, 3), 10), tmp_path, atol=1e-4)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: MaxPoolingWithArgmax2D(0), "pool_size"),
        (lambda: MaxPoolingWithArgmax2D(2, strides=(1, 2, 3)), "strides"),
        (lambda: MaxPoolingWithArgmax2D(2, padding="causal"), "padding"),
        (lambda: MaxUnpooling2D(size=(2, 0)), "size"),
        (lambda: MaxUnpooling2D(2)(np.zeros((1, 2, 2, 1), np.float32)), "values, argmax"),
    ],
)
def test_bad_arguments_are_named(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def _tfa_unpooled_shape(shape, pool, strides, padding):
    """tensorflow-addons' ``_calculate_output_shape`` for ``MaxUnpooling2D``."""
    batch, h, w, c = shape
    if padding == "same":
        return batch, h * strides[0], w * strides[1], c
    return batch, (h - 1) * strides[0] + pool[0], (w - 1) * strides[1] + pool[1], c


@pytest.mark.parametrize(
    "shape, pool, strides, padding",
    [
        ((2, 4, 6, 3), (2, 2), (2, 2), "SAME"),
        ((1, 5, 7, 2), (3, 3), (2, 2), "VALID"),  # (5 - 3) / 2 whole: the input size back
        ((1, 6, 4, 2), (3, 2), (3, 1), "valid"),
    ],
)
def test_unpool_takes_tensorflow_addons_arguments_and_call(shape, pool, strides, padding):
    """tfa's ``MaxUnpooling2D(pool_size, strides, padding)(updates, mask)``: the output size is
    tfa's, and the values land where the loop reference puts them."""
    x = np.random.default_rng(11).normal(size=shape).astype(np.float32)
    pooled, argmax = _pool_reference(x, pool, strides, padding.lower())
    want_shape = _tfa_unpooled_shape(pooled.shape, pool, strides, padding.lower())
    assert want_shape == shape
    layer = MaxUnpooling2D(pool_size=pool, strides=strides, padding=padding)
    got = layer(tf.constant(pooled, tf.float32), tf.constant(argmax))  # tfa's call
    np.testing.assert_allclose(got, _unpool_reference(pooled, argmax, shape), atol=FLOAT32_ATOL)
    assert layer.compute_output_shape(pooled.shape, argmax.shape) == want_shape
    # in a functional model, saved and loaded with safe_mode
    inputs = keras.Input(shape[1:])
    p, a = MaxPoolingWithArgmax2D(pool, strides, padding.lower())(inputs)
    model = keras.Model(
        inputs, MaxUnpooling2D(pool_size=pool, strides=strides, padding=padding)(p, a)
    )
    assert tuple(model.output.shape[1:]) == shape[1:]
    np.testing.assert_allclose(
        model(x), _unpool_reference(pooled, argmax, shape), atol=FLOAT32_ATOL
    )
    clone = MaxUnpooling2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_unpool_refuses_size_together_with_tensorflow_addons_arguments():
    with pytest.raises(ValueError, match="not both"):
        MaxUnpooling2D(size=3, pool_size=2)
    with pytest.raises(ValueError, match="need pool_size"):
        MaxUnpooling2D(strides=2)
