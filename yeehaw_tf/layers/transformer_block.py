"""The pre-norm Transformer encoder block of the Vision Transformer (Dosovitskiy et al. 2021)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class TransformerBlock(keras.layers.Layer):
    """One pre-norm block on tokens: ``x + MHA(LN(x))``, then ``x + MLP(LN(x))``.

    ``MHA`` is Keras's ``MultiHeadAttention`` (self-attention, ``heads`` heads of width
    ``key_dim = dim / heads``, biased query/key/value/output projections); ``MLP`` is
    ``Dense(hidden) -> GELU (exact, erf) -> Dense(dim)`` with ``hidden = round(dim *
    mlp_ratio)``; ``LN`` is layer normalisation over the channels with epsilon 1e-6 (ViT's).

    Args:
        dim: the token width; it must be a multiple of ``heads``.
        heads: the number of attention heads.
        mlp_ratio: the MLP's hidden width over ``dim``, > 0.
        dropout: in [0, 1): dropout on the attention probabilities and on both residual
            branches' outputs (training only).

    Input and output: ``[B, N, dim]``. Parameters: ``2 * 2 dim`` (two norms) ``+ 4 dim^2 +
    4 dim`` (attention) ``+ 2 dim hidden + hidden + dim`` (MLP).
    """

    def __init__(
        self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0, **kwargs
    ):
        super().__init__(**kwargs)
        if not isinstance(dim, int) or not isinstance(heads, int) or heads < 1 or dim % heads:
            raise ValueError(
                f"TransformerBlock: dim must be a multiple of heads (positive integers), got "
                f"dim={dim!r}, heads={heads!r}"
            )
        if not mlp_ratio > 0:
            raise ValueError(f"TransformerBlock: mlp_ratio must be > 0, got {mlp_ratio}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"TransformerBlock: dropout must be in [0, 1), got {dropout}")
        self.dim = dim
        self.heads = heads
        self.mlp_ratio = float(mlp_ratio)
        self.dropout = float(dropout)
        hidden = max(1, int(round(dim * mlp_ratio)))
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.attention = keras.layers.MultiHeadAttention(
            heads, dim // heads, dropout=dropout, name="attention"
        )
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.fc1 = keras.layers.Dense(hidden, activation="gelu", name="fc1")
        self.fc2 = keras.layers.Dense(dim, name="fc2")
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] != self.dim:
            raise ValueError(
                f"TransformerBlock: expects tokens [batch, N, {self.dim}], got shape "
                f"{tuple(input_shape)}"
            )
        self.norm1.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.norm2.build(input_shape)
        self.fc1.build(input_shape)
        self.fc2.build((*input_shape[:-1], self.fc1.units))

    def call(self, x, training=None):
        y = self.norm1(x)
        x = x + self.drop(self.attention(y, y, training=training), training=training)
        y = self.fc2(self.fc1(self.norm2(x)))
        return x + self.drop(y, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "heads": self.heads,
            "mlp_ratio": self.mlp_ratio,
            "dropout": self.dropout,
        }
