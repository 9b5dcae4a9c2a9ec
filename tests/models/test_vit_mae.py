"""The Vision Transformer and the masked autoencoder: a block against a float64 NumPy
reference, the published parameter formula, masking that really hides the masked patches,
save/load with safe_mode and builtin-only TFLite parity."""

import math

import keras
import numpy as np
import pytest

from tests.layer_checks import check_layer
from tests.tflite_checks import run_exported
from yeehaw_tf.layers.tokens import PatchEmbedding, sincos_position_embedding
from yeehaw_tf.layers.transformer_block import TransformerBlock
from yeehaw_tf.models.self_supervised.mae import mae_encoder, masked_autoencoder
from yeehaw_tf.models.self_supervised.vit import VITS, vit


def _layer_norm(x, gamma, beta):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-6) * gamma + beta


def _gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2)))


def test_transformer_block_matches_a_float64_reference(tmp_path):
    block = TransformerBlock(8, 2, mlp_ratio=2.0)
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype(np.float32)
    got = np.asarray(block(x))
    w = {v.path.split("/", 1)[1]: np.asarray(v, np.float64) for v in block.weights}
    xd = x.astype(np.float64)
    y = _layer_norm(xd, w["norm1/gamma"], w["norm1/beta"])
    q = np.einsum("bnd,dhk->bnhk", y, w["attention/query/kernel"]) + w["attention/query/bias"]
    k = np.einsum("bnd,dhk->bnhk", y, w["attention/key/kernel"]) + w["attention/key/bias"]
    v = np.einsum("bnd,dhk->bnhk", y, w["attention/value/kernel"]) + w["attention/value/bias"]
    scores = np.einsum("bqhk,bthk->bhqt", q, k) / np.sqrt(4)
    attention = np.exp(scores - scores.max(-1, keepdims=True))
    attention /= attention.sum(-1, keepdims=True)
    heads = np.einsum("bhqt,bthk->bqhk", attention, v)
    out = np.einsum("bqhk,hkd->bqd", heads, w["attention/attention_output/kernel"])
    xd = xd + out + w["attention/attention_output/bias"]
    y = _layer_norm(xd, w["norm2/gamma"], w["norm2/beta"])
    y = _gelu(y @ w["fc1/kernel"] + w["fc1/bias"]) @ w["fc2/kernel"] + w["fc2/bias"]
    np.testing.assert_allclose(got, xd + y, atol=1e-5)
    check_layer(block, x, tmp_path)


def test_sincos_positions_follow_the_formula():
    table = sincos_position_embedding(3, 8)
    omega = 1 / 10000 ** (np.arange(2) / 2)
    row, col = 1, 2  # token 5
    expected = np.concatenate(
        [np.sin(row * omega), np.cos(row * omega), np.sin(col * omega), np.cos(col * omega)]
    )
    np.testing.assert_allclose(table[5], expected, atol=1e-6)


def test_vit_tiny_has_the_parameters_of_its_formula():
    spec = VITS["vit_tiny"]
    p, d, depth, c, classes = spec["patch_size"], spec["dim"], spec["depth"], 3, 10
    hidden = int(d * spec["mlp_ratio"])
    block = 2 * (2 * d) + (4 * d * d + 4 * d) + (d * hidden + hidden + hidden * d + d)
    expected = (p * p * c * d + d) + depth * block + 2 * d + (d * classes + classes)
    assert vit(classes, (32, 32, c), **spec).count_params() == expected


def test_vit_trains_every_variable_and_refuses_bad_sizes():
    import tensorflow as tf

    model = vit(10, (16, 16, 3), patch_size=4, dim=16, depth=2, heads=2)
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and np.any(np.asarray(g) != 0) for g in grads)
    with pytest.raises(ValueError, match="divisible by patch_size"):
        vit(10, (18, 18, 3), patch_size=4)
    with pytest.raises(ValueError, match="patch_size"):
        PatchEmbedding(0, 8)


def _mae():
    return masked_autoencoder((16, 16, 3), patch_size=4, dim=16, depth=1, heads=2, decoder_dim=8,
                              decoder_heads=2, mask_ratio=0.75)  # fmt: skip


def test_the_encoder_sees_only_the_visible_patches():
    mae = _mae()
    rng = np.random.default_rng(0)
    images = rng.normal(size=(1, 16, 16, 3)).astype(np.float32)
    noise = rng.uniform(size=(1, 16)).astype(np.float32)
    out = mae({"images": images, "noise": noise})
    mask = np.asarray(out["mask"])[0]
    assert mask.sum() == 12
    masked = int(np.argmax(mask))
    changed = images.copy()
    r, c = divmod(masked, 4)
    changed[0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 10.0  # a masked patch's pixels
    again = mae({"images": changed, "noise": noise})
    np.testing.assert_allclose(again["reconstruction"], out["reconstruction"], atol=1e-6)
    visible = int(np.argmin(mask))
    r, c = divmod(visible, 4)
    moved = images.copy()
    moved[0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 10.0
    assert not np.allclose(mae({"images": moved, "noise": noise})["reconstruction"],
                           out["reconstruction"])  # fmt: skip


def test_mae_and_its_encoder_save_load_and_export_builtin_only(tmp_path):
    mae = _mae()
    rng = np.random.default_rng(1)
    images = rng.normal(size=(2, 16, 16, 3)).astype(np.float32)
    noise = rng.uniform(size=(2, 16)).astype(np.float32)
    path = str(tmp_path / "mae.keras")
    mae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    a, b = mae({"images": images, "noise": noise}), loaded({"images": images, "noise": noise})
    np.testing.assert_allclose(a["reconstruction"], b["reconstruction"], atol=1e-6)
    encoder = mae_encoder(mae)
    assert encoder.get_layer("block1") is mae.get_layer("block1")  # shared weights
    assert encoder(images).shape == (2, 16)
    run_exported(encoder, images, tmp_path / "encoder", atol=1e-4)
