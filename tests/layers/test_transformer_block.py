"""The pre-norm Transformer block against a float64 NumPy block computed from its own weights
(layer norm, multi-head attention with its kernels, exact GELU), and the layer contract."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from tests.layer_checks import check_layer
from yeehaw_tf.layers.transformer_block import TransformerBlock


def _layer_norm(x, gamma, beta):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-6) * gamma + beta


def _gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2)))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def reference_block(x, w, heads):
    """``x + MHA(LN1(x))``, then ``x + W2 GELU(W1 LN2(x))``; ``w`` by weight path."""
    key_dim = x.shape[-1] // heads
    y = _layer_norm(x, w["norm1/gamma"], w["norm1/beta"])
    q, k, v = (
        np.einsum("bnd,dhk->bnhk", y, w[f"attention/{n}/kernel"]) + w[f"attention/{n}/bias"]
        for n in ("query", "key", "value")
    )
    attention = _softmax(np.einsum("bqhk,bthk->bhqt", q, k) / np.sqrt(key_dim))
    heads_out = np.einsum("bhqt,bthk->bqhk", attention, v)
    out = np.einsum("bqhk,hkd->bqd", heads_out, w["attention/attention_output/kernel"])
    x = x + out + w["attention/attention_output/bias"]
    y = _layer_norm(x, w["norm2/gamma"], w["norm2/beta"])
    return x + _gelu(y @ w["fc1/kernel"] + w["fc1/bias"]) @ w["fc2/kernel"] + w["fc2/bias"]


@pytest.mark.parametrize(("dim", "heads", "mlp_ratio"), [(8, 2, 2.0), (12, 3, 1.5)])
def test_block_matches_a_float64_reference(dim, heads, mlp_ratio):
    block = TransformerBlock(dim, heads, mlp_ratio=mlp_ratio)
    x = np.random.default_rng(0).normal(size=(2, 5, dim)).astype(np.float32)
    block(x)
    rng = np.random.default_rng(1)  # non-trivial norms and biases (they start at 1 and 0)
    for v in block.weights:
        v.assign(rng.normal(0, 0.5, v.shape).astype(np.float32))
    w = {v.path.split("/", 1)[1]: np.asarray(v, np.float64) for v in block.weights}
    assert len(w) == 16  # (gamma, beta) x 2 norms, (kernel, bias) x 4 attention + 2 MLP
    expected = reference_block(x.astype(np.float64), w, heads)
    np.testing.assert_allclose(np.asarray(block(x)), expected, atol=10 * FLOAT32_ATOL)


def test_parameters_are_the_formula():
    dim, hidden = 16, 32
    block = TransformerBlock(dim, 4, mlp_ratio=2.0)
    block.build((None, 7, dim))
    expected = 2 * (2 * dim) + (4 * dim * dim + 4 * dim) + (2 * dim * hidden + hidden + dim)
    assert block.count_params() == expected


def test_layer_contract_with_dropout(tmp_path):
    block = TransformerBlock(8, 2, mlp_ratio=2.0, dropout=0.25)
    x = np.random.default_rng(2).normal(size=(2, 5, 8)).astype(np.float32)
    check_layer(block, x, tmp_path, training=True)
    inference = block(x, training=False)
    np.testing.assert_array_equal(inference, block(x))  # dropout off outside training
    assert not np.allclose(block(tf.constant(x), training=True), inference)


def test_arguments_and_input_width_are_checked():
    with pytest.raises(ValueError, match="multiple of heads"):
        TransformerBlock(10, 4)
    with pytest.raises(ValueError, match="mlp_ratio"):
        TransformerBlock(8, 2, mlp_ratio=0)
    with pytest.raises(ValueError, match="dropout"):
        TransformerBlock(8, 2, dropout=1.0)
    with pytest.raises(ValueError, match=r"\[batch, N, 8\]"):
        TransformerBlock(8, 2)(np.zeros((1, 3, 6), np.float32))
