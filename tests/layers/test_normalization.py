import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_checks import check_layer
from yeehaw_tf import layers

RTOL, ATOL = 1e-5, 1e-5


def _batches(n=3, shape=(4, 5, 5, 8), seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=shape) * (i + 1) + i).astype(np.float32) for i in range(n)]


def _grads(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, training=True)
        loss = tf.reduce_sum(
            out * tf.cos(tf.reshape(tf.range(tf.size(out), dtype=tf.float32), out.shape))
        )
    return out, tape.gradient(loss, [x, *layer.trainable_variables])


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: layers.BatchNormalization(), lambda: keras.layers.BatchNormalization()),
        (
            lambda: layers.BatchNormalization(momentum=0.5, epsilon=1e-5, axis=1),
            lambda: keras.layers.BatchNormalization(momentum=0.5, epsilon=1e-5, axis=1),
        ),
        (lambda: layers.LayerNormalization(), lambda: keras.layers.LayerNormalization()),
        (lambda: layers.GroupNormalization(4), lambda: keras.layers.GroupNormalization(4)),
        (lambda: layers.GroupNormalization(1), lambda: keras.layers.GroupNormalization(1)),
    ],
)
def test_outputs_gradients_and_moving_statistics_match_keras_over_training_steps(ours, theirs):
    a, b = ours(), theirs()
    optimizer_a, optimizer_b = keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
    for x in _batches():
        out_a, grads_a = _grads(a, x)
        out_b, grads_b = _grads(b, x)
        np.testing.assert_allclose(out_a, out_b, rtol=RTOL, atol=ATOL)
        for g_a, g_b in zip(grads_a, grads_b, strict=True):
            np.testing.assert_allclose(g_a, g_b, rtol=1e-4, atol=1e-4)
        optimizer_a.apply(grads_a[1:], a.trainable_variables)
        optimizer_b.apply(grads_b[1:], b.trainable_variables)
    for w_a, w_b in zip(a.weights, b.weights, strict=True):  # gamma, beta (and moving stats)
        np.testing.assert_allclose(w_a, w_b, rtol=RTOL, atol=ATOL)
    x = _batches(1, seed=9)[0]
    np.testing.assert_allclose(a(x, training=False), b(x, training=False), rtol=RTOL, atol=ATOL)


def test_batch_norm_matches_the_formula_in_float64():
    x = _batches(1)[0]
    bn = layers.BatchNormalization(momentum=0.9)
    out = bn(x, training=True).numpy()
    x64 = x.astype(np.float64)
    mean, var = x64.mean((0, 1, 2)), x64.var((0, 1, 2))
    np.testing.assert_allclose(out, (x64 - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean, 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance, 0.9 + 0.1 * var, rtol=1e-5)
    # inference uses the moving statistics
    inference = (x64 - 0.1 * mean) / np.sqrt(0.9 + 0.1 * var + 1e-3)
    np.testing.assert_allclose(bn(x, training=False), inference, rtol=1e-5, atol=1e-5)


def test_instance_norm_is_group_norm_with_one_channel_per_group_and_matches_numpy():
    x = _batches(1)[0]
    instance = layers.InstanceNormalization()(x).numpy()
    group = layers.GroupNormalization(groups=8)(x).numpy()
    np.testing.assert_allclose(instance, group, rtol=1e-6, atol=1e-6)
    x64 = x.astype(np.float64)
    mean = x64.mean((1, 2), keepdims=True)
    var = x64.var((1, 2), keepdims=True)
    np.testing.assert_allclose(instance, (x64 - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "layer",
    [
        layers.BatchNormalization(),
        layers.BatchNormalization(synchronized=True, center=False),
        layers.LayerNormalization(scale=False),
        layers.GroupNormalization(2),
        layers.InstanceNormalization(),
    ],
    ids=["bn", "sync_bn", "ln", "gn", "in"],
)
def test_layer_contract(layer, tmp_path):
    check_layer(layer, _batches(1, shape=(2, 3, 3, 4))[0], tmp_path, training=True)


def test_batch_norm_under_mirrored_strategy_per_replica_and_synchronized(two_replicas):
    x = _batches(1, shape=(8, 3, 3, 4))[0]
    strategy = two_replicas
    results = {}
    for synchronized in (False, True):
        with strategy.scope():
            bn = layers.BatchNormalization(momentum=0.0, synchronized=synchronized)
            bn.build(x.shape)
        dist = strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices(x).batch(8)
        )
        batch = next(iter(dist))
        per_replica = strategy.run(
            tf.function(lambda t, layer=bn: layer(t, training=True)), args=(batch,)
        )
        results[synchronized] = np.concatenate(
            [t.numpy() for t in strategy.experimental_local_results(per_replica)]
        )
        moving_mean = bn.moving_mean.numpy()
        if synchronized:  # statistics of the global batch
            np.testing.assert_allclose(moving_mean, x.mean((0, 1, 2)), rtol=1e-5, atol=1e-6)
        else:  # the mean of the replicas' statistics
            halves = x.reshape(2, 4, 3, 3, 4).mean((1, 2, 3)).mean(0)
            np.testing.assert_allclose(moving_mean, halves, rtol=1e-5, atol=1e-6)
    single = layers.BatchNormalization()(x, training=True).numpy()
    np.testing.assert_allclose(results[True], single, rtol=1e-5, atol=1e-5)
    halves = np.concatenate([layers.BatchNormalization()(h, training=True) for h in (x[:4], x[4:])])
    np.testing.assert_allclose(results[False], halves, rtol=1e-5, atol=1e-5)


def test_mixed_precision_computes_statistics_in_float32():
    x = (_batches(1)[0] * 100).astype(np.float16)
    bn = layers.BatchNormalization(dtype="mixed_float16")
    out = bn(x, training=True)
    assert out.dtype == "float16" and bn.moving_mean.dtype == "float32"
    assert np.all(np.isfinite(out.numpy()))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.BatchNormalization(momentum=1.0), "momentum"),
        (lambda: layers.LayerNormalization(epsilon=0.0), "epsilon"),
        (lambda: layers.GroupNormalization(0), "groups"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_group_count_must_divide_channels():
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(3)(np.zeros((1, 2, 2, 8), np.float32))


def test_batch_norm_in_exported_savedmodel_and_tflite(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    model = keras.Model(inputs, layers.ReLU()(x))
    for batch in _batches(3, shape=(8, 4, 4, 3)):  # move the moving statistics off their init
        model(batch, training=True)
    x = _batches(1, shape=(2, 4, 4, 3), seed=5)[0]
    expected = model(x, training=False).numpy()
    path = str(tmp_path / "sm")
    model.export(path, format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(path)  # keep a reference: its variables die with it
    served = loaded.serve(x).numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)
    converter = tf.lite.TFLiteConverter.from_saved_model(path)
    interpreter = Interpreter(model_content=converter.convert())
    runner = interpreter.get_signature_runner()
    (out,) = runner(**{runner.get_input_details().popitem()[0]: x}).values()
    np.testing.assert_allclose(out, expected, atol=1e-5)


@contextlib.contextmanager
def _global_policy(name):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _standardised(x, groups=None):
    """Float64 reference: each example standardised over its last axis (``groups=None``), or
    over its positions and each of ``groups`` groups of channels."""
    x = x.astype(np.float64)
    if groups is None:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-3)
    grouped = x.reshape(*x.shape[:-1], groups, x.shape[-1] // groups)
    axes = tuple(i for i in range(1, grouped.ndim) if i != grouped.ndim - 2)
    mean, var = grouped.mean(axes, keepdims=True), grouped.var(axes, keepdims=True)
    return ((grouped - mean) / np.sqrt(var + 1e-3)).reshape(x.shape)


PER_EXAMPLE_NORMS = {  # ours, Keras's own, the reference's groups (8 channels)
    "layer": (layers.LayerNormalization, keras.layers.LayerNormalization, None),
    "group": (
        lambda **kw: layers.GroupNormalization(2, **kw),
        lambda **kw: keras.layers.GroupNormalization(2, **kw),
        2,
    ),
    "instance": (
        layers.InstanceNormalization,
        lambda **kw: keras.layers.GroupNormalization(-1, **kw),
        8,
    ),
}


@pytest.mark.parametrize("policy_set_on", ["layer", "global"])
@pytest.mark.parametrize("kind", PER_EXAMPLE_NORMS)
def test_per_example_norms_under_mixed_float16_normalise_the_uncast_input(kind, policy_set_on):
    ours, theirs, groups = PER_EXAMPLE_NORMS[kind]
    rng = np.random.default_rng(0)
    offset = (1000 + 0.25 * rng.normal(size=(2, 3, 3, 8))).astype(np.float32)
    large = (70000 + rng.normal(size=(2, 3, 3, 8))).astype(np.float32)  # inf in float16
    before = keras.config.dtype_policy().name
    on_layer = policy_set_on == "layer"
    kwargs = {"dtype": "mixed_float16"} if on_layer else {}
    with contextlib.nullcontext() if on_layer else _global_policy("mixed_float16"):
        layer, reference_layer = ours(**kwargs), theirs(**kwargs)
        out, keras_out = layer(offset), reference_layer(offset)
        out_large = layer(large)
    assert keras.config.dtype_policy().name == before
    assert out.dtype == "float16" and out_large.dtype == "float16"
    assert layer.gamma.dtype == "float32" and layer.beta.dtype == "float32"
    np.testing.assert_allclose(out, keras_out, atol=1e-2)
    np.testing.assert_allclose(out, _standardised(offset, groups), atol=1e-2)
    assert np.all(np.isfinite(out_large.numpy()))
    np.testing.assert_allclose(out_large, _standardised(large, groups), atol=2e-2)


def test_instance_normalization_takes_tensorflow_addons_axis():
    x = np.random.default_rng(4).normal(size=(2, 3, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(
        layers.InstanceNormalization(axis=-1)(x), layers.InstanceNormalization()(x)
    )
    with pytest.raises(ValueError, match="axis must be -1"):
        layers.InstanceNormalization(axis=1)
