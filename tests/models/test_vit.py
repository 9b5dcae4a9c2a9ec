"""The Vision Transformer classifier: shapes, the parameter formula, a gradient for every
variable, save/load in safe mode, builtin-only TFLite parity and a memorisation check."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.tflite_checks import run_exported
from yeehaw_tf.models.self_supervised.vit import VITS, vit


def _images(batch=2, size=16, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, size, size, 3)).astype(np.float32)


def _small(**options):
    return vit(5, (16, 16, 3), patch_size=4, dim=16, depth=2, heads=2, **options)


def vit_parameters(p, c, dim, depth, mlp_ratio, classes, pool="mean"):
    """Patch embedding, blocks (2 layer norms, attention, MLP), final norm, head."""
    hidden = int(round(dim * mlp_ratio))
    patch_embedding = p * p * c * dim + dim
    layer_norm = 2 * dim
    attention = 4 * dim * dim + 4 * dim  # q, k, v, output kernels and biases
    mlp = dim * hidden + hidden + hidden * dim + dim
    block = 2 * layer_norm + attention + mlp
    class_token = dim if pool == "token" else 0
    return patch_embedding + class_token + depth * block + layer_norm + dim * classes + classes


@pytest.mark.parametrize("name", sorted(VITS))
def test_variants_have_the_parameters_of_the_formula(name):
    spec = VITS[name]
    model = vit(10, (32, 32, 3), **spec)
    formula = vit_parameters(
        spec["patch_size"], 3, spec["dim"], spec["depth"], spec["mlp_ratio"], 10
    )
    assert model.count_params() == formula
    assert {"vit_tiny": 137_802, "vit_small": 802_698}[name] == formula
    token = vit(10, (32, 32, 3), pool="token", **spec)
    args = (spec["patch_size"], 3, spec["dim"], spec["depth"], spec["mlp_ratio"], 10, "token")
    assert token.count_params() == vit_parameters(*args)


@pytest.mark.parametrize("pool", ["mean", "token"])
def test_every_variable_gets_a_gradient_from_cross_entropy(pool):
    model = _small(pool=pool, dropout=0.1)
    x = _images(3)
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(
                np.array([0, 3, 4]), logits, from_logits=True
            )
        )
    assert logits.shape == (3, 5) and bool(tf.reduce_all(tf.math.is_finite(logits)))
    grads = tape.gradient(loss, model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads, strict=True):
        assert grad is not None and np.any(np.asarray(grad) != 0), variable.path


def test_features_are_the_pooled_embedding():
    model = _small()
    features = _small(features=True)
    features.set_weights(model.get_weights()[:-2])  # all but the head
    x = _images()
    embeddings = features(x)["embeddings"]
    assert embeddings.shape == (2, 16)
    head = model.get_layer("logits")
    np.testing.assert_allclose(head(embeddings), model(x), atol=1e-5)


def test_save_load_safe_mode_and_tflite_builtin_parity(tmp_path):
    model = _small(pool="token")
    x = _images(3)
    path = str(tmp_path / "vit.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded(x), model(x))
    run_exported(model, x, tmp_path, atol=1e-4)  # SavedModel, then TFLITE_BUILTINS only


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="divisible by patch_size"):
        vit(10, (18, 18, 3), patch_size=4)
    with pytest.raises(ValueError, match="square"):
        vit(10, (16, 32, 3), patch_size=4)
    with pytest.raises(ValueError, match="divisible by heads"):
        vit(10, (16, 16, 3), dim=20, heads=3)
    with pytest.raises(ValueError, match="by 4"):
        vit(10, (16, 16, 3), dim=18, heads=2)
    with pytest.raises(ValueError, match="depth"):
        vit(10, (16, 16, 3), depth=0)
    with pytest.raises(ValueError, match="pool"):
        vit(10, (16, 16, 3), pool="max")
    with pytest.raises(ValueError, match="num_classes"):
        vit(0, (16, 16, 3))
    with pytest.raises(ValueError, match="patch_size"):
        vit(10, (16, 16, 3), patch_size=0)


@pytest.mark.slow
def test_vit_tiny_memorises_64_random_labels():
    """A learning check: vit_tiny fits 64 random-label 32x32 images (about 40 Adam steps, a
    few seconds after tracing)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    model = vit(10, (32, 32, 3), **VITS["vit_tiny"])
    optimizer = keras.optimizers.Adam(3e-3)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return logits  # no dropout: the inference logits before the update

    for _ in range(150):
        accuracy = np.mean(np.argmax(step(), axis=1) == y)
        if accuracy == 1.0:
            break
    assert accuracy == 1.0
