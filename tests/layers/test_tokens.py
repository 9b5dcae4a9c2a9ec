"""The ViT/MAE token layers against their formulas (float64 NumPy) and the layer contract."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from tests.layer_checks import check_layer, check_list_layer
from yeehaw_tf.layers.tokens import (
    AppendMaskTokens,
    ClassToken,
    GatherTokens,
    PatchEmbedding,
    RandomPatchMasking,
    SelectToken,
    SinCosPositionEmbedding,
    sincos_position_embedding,
)
from yeehaw_tf.ops.patches import patchify, random_masking


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_patch_embedding_is_a_linear_map_of_each_patch(tmp_path):
    layer = PatchEmbedding(4, 6)
    x = _normal(2, 8, 12, 3)
    out = np.asarray(layer(x))
    kernel, bias = (np.asarray(w, np.float64) for w in layer.projection.weights)
    # the conv kernel [p, p, C, dim] flattened (py, px, c) is the patch's projection matrix
    expected = patchify(x.astype(np.float64), 4).numpy() @ kernel.reshape(-1, 6) + bias
    assert out.shape == (2, 6, 6)
    np.testing.assert_allclose(out, expected, atol=FLOAT32_ATOL)
    assert layer.count_params() == 4 * 4 * 3 * 6 + 6
    check_layer(layer, x, tmp_path)
    with pytest.raises(ValueError, match="divide"):
        PatchEmbedding(5, 6)(x)
    with pytest.raises(ValueError, match="patch_size"):
        PatchEmbedding(0, 6)


def test_sincos_table_follows_the_formula():
    grid, dim = 3, 8
    table = sincos_position_embedding(grid, dim)
    assert table.shape == (9, 8) and table.dtype == np.float32
    quarter = dim // 4
    omega = 1 / 10000 ** (np.arange(quarter) / quarter)
    for token in range(9):
        row, col = divmod(token, grid)
        expected = np.concatenate(
            [np.sin(row * omega), np.cos(row * omega), np.sin(col * omega), np.cos(col * omega)]
        )
        np.testing.assert_allclose(table[token], expected, atol=1e-6)
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_position_embedding(3, 6)


def test_sincos_position_embedding_adds_the_table_and_has_no_weights(tmp_path):
    layer = SinCosPositionEmbedding(3)
    x = _normal(2, 9, 8)
    np.testing.assert_allclose(layer(x), x + sincos_position_embedding(3, 8)[None], atol=1e-6)
    assert layer.weights == []
    check_layer(layer, x, tmp_path)
    with pytest.raises(ValueError, match="9 tokens"):
        SinCosPositionEmbedding(3)(_normal(2, 8, 8))


def test_class_token_is_prepended_and_selected(tmp_path):
    layer = ClassToken()
    x = _normal(3, 5, 4)
    out = np.asarray(layer(x))
    token = np.asarray(layer.token)[0, 0]
    assert out.shape == (3, 6, 4) and layer.count_params() == 4
    np.testing.assert_array_equal(out[:, 1:], x)
    np.testing.assert_array_equal(out[:, 0], np.broadcast_to(token, (3, 4)))
    check_layer(layer, x, tmp_path)
    np.testing.assert_array_equal(SelectToken(0)(out), out[:, 0])
    check_layer(SelectToken(2), x, tmp_path)
    with pytest.raises(ValueError, match="index"):
        SelectToken(-1)


def test_append_mask_tokens_fills_up_to_total(tmp_path):
    layer = AppendMaskTokens(7)
    x = _normal(2, 3, 4)
    out = np.asarray(layer(x))
    token = np.asarray(layer.mask_token)[0, 0]
    assert out.shape == (2, 7, 4)
    np.testing.assert_array_equal(out[:, :3], x)
    np.testing.assert_array_equal(out[:, 3:], np.broadcast_to(token, (2, 4, 4)))
    check_layer(layer, x, tmp_path)
    with pytest.raises(ValueError, match="total=2"):
        AppendMaskTokens(2)(x)


def test_gather_tokens_takes_each_examples_own_indices(tmp_path):
    tokens = _normal(2, 5, 3)
    indices = np.array([[4, 0, 2], [1, 1, 3]], np.int32)
    out = np.asarray(GatherTokens()([tokens, indices]))
    for b in range(2):
        for k in range(3):
            np.testing.assert_array_equal(out[b, k], tokens[b, indices[b, k]])
    check_list_layer(GatherTokens(), [tokens, indices], tmp_path)


def test_random_patch_masking_wraps_the_op_and_saves(tmp_path):
    layer = RandomPatchMasking(0.75)
    noise = np.random.default_rng(3).uniform(size=(2, 16)).astype(np.float32)
    outputs = layer(noise)
    for got, want in zip(outputs, random_masking(noise, 0.75), strict=True):
        np.testing.assert_array_equal(got, want)
    clone = RandomPatchMasking.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    inputs = keras.Input((16,))
    symbolic = layer(inputs)
    assert [t.shape for t in symbolic] == [(None, 4), (None, 16), (None, 16)]
    assert [t.dtype for t in symbolic] == ["int32", "float32", "int32"]
    path = os.path.join(str(tmp_path), "masking.keras")
    keras.Model(inputs, list(symbolic)).save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for got, want in zip(loaded(noise), outputs, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="mask_ratio"):
        RandomPatchMasking(1.0)


def test_random_patch_masking_keeps_float32_noise_under_mixed_precision():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    layer = RandomPatchMasking(0.5)
    noise = tf.constant([[0.1, 0.10001, 0.9, 0.5]])  # equal in float16
    keep, _, _ = layer(noise)
    np.testing.assert_array_equal(keep, [[0, 1]])
