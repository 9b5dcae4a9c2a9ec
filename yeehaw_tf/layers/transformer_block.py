"""The pre-norm Transformer encoder block of the Vision Transformer (Dosovitskiy et al. 2021):
``x + MHA(LN(x))``, then ``x + MLP(LN(x))`` with a GELU MLP of width ``mlp_ratio * dim``."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class TransformerBlock(keras.layers.Layer):
    """One block on tokens ``[B, N, dim] -> [B, N, dim]`` (Keras's ``MultiHeadAttention``
    with ``key_dim = dim / heads``; layer norm epsilon 1e-6 as ViT)."""

    def __init__(
        self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0, **kwargs
    ):
        super().__init__(**kwargs)
        if not isinstance(dim, int) or not isinstance(heads, int) or heads < 1 or dim % heads:
            raise ValueError(
                f"dim must be a multiple of heads (positive integers), got {dim}, {heads}"
            )
        if not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be > 0, got {mlp_ratio}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dim, self.heads, self.mlp_ratio, self.dropout = (
            dim,
            heads,
            float(mlp_ratio),
            float(dropout),
        )
        hidden = int(round(dim * mlp_ratio))
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.attention = keras.layers.MultiHeadAttention(
            heads, dim // heads, dropout=dropout, name="attention"
        )
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.fc1 = keras.layers.Dense(hidden, activation="gelu", name="fc1")
        self.fc2 = keras.layers.Dense(dim, name="fc2")
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape):
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
