"""Token layers of the Vision Transformer and the masked autoencoder: patch embedding, fixed
2-D sine-cosine position embedding, random patch masking, token gathering and mask tokens."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.ops.patches import num_kept, random_masking


def sincos_position_embedding(grid: int, dim: int) -> np.ndarray:
    """``[grid * grid, dim]``: MAE's fixed 2-D sine-cosine embedding (half the channels encode
    the row, half the column; each half ``[sin(pos * w_k), cos(pos * w_k)]`` with
    ``w_k = 1 / 10000 ** (k / (dim / 4))``)."""
    if dim % 4:
        raise ValueError(f"the sine-cosine position embedding needs dim divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / 10000 ** (np.arange(quarter, dtype=np.float64) / quarter)
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")

    def encode(positions):
        angles = positions.reshape(-1, 1) * omega[None]
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    return np.concatenate([encode(rows), encode(cols)], axis=1).astype(np.float32)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class PatchEmbedding(keras.layers.Layer):
    """``[B, H, W, C] -> [B, (H/p) (W/p), dim]``: each non-overlapping ``p x p`` patch linearly
    projected (a convolution with kernel = stride = ``patch_size``), Dosovitskiy et al. 2021."""

    def __init__(self, patch_size: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(patch_size, int) or patch_size < 1:
            raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.patch_size = patch_size
        self.dim = dim
        self.projection = keras.layers.Conv2D(
            dim, patch_size, strides=patch_size, name="projection"
        )

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f"PatchEmbedding: patch_size={self.patch_size} must divide the image size "
                f"{height}x{width}"
            )
        self.projection.build(input_shape)

    def call(self, images):
        x = self.projection(images)
        return keras.ops.reshape(x, (-1, x.shape[1] * x.shape[2], self.dim))

    def compute_output_shape(self, input_shape):
        count = (input_shape[1] // self.patch_size) * (input_shape[2] // self.patch_size)
        return (input_shape[0], count, self.dim)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "dim": self.dim}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class SinCosPositionEmbedding(keras.layers.Layer):
    """Adds :func:`sincos_position_embedding` (fixed, not trained) to ``[B, grid^2, dim]``."""

    def __init__(self, grid: int, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(grid, int) or grid < 1:
            raise ValueError(f"grid must be a positive integer, got {grid!r}")
        self.grid = grid

    def build(self, input_shape):
        if input_shape[1] != self.grid**2:
            raise ValueError(f"expected {self.grid**2} tokens, got shape {input_shape}")
        self._table = sincos_position_embedding(self.grid, int(input_shape[-1]))

    def call(self, tokens):
        return tokens + keras.ops.cast(self._table[None], tokens.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "grid": self.grid}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class RandomPatchMasking(keras.layers.Layer):
    """``noise [B, N] -> (keep [B, n_keep], mask [B, N], restore [B, N])``; see
    :func:`yeehaw_tf.ops.patches.random_masking`. The randomness is the input, so the layer is
    deterministic (and exports) and the caller draws fresh noise every step."""

    def __init__(self, mask_ratio: float, **kwargs):
        super().__init__(**kwargs)
        num_kept(1, mask_ratio)  # validates
        self.mask_ratio = float(mask_ratio)

    def call(self, noise):
        return random_masking(noise, self.mask_ratio)

    def compute_output_shape(self, input_shape):
        kept = num_kept(input_shape[1], self.mask_ratio)
        return (input_shape[0], kept), tuple(input_shape), tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_ratio": self.mask_ratio}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class GatherTokens(keras.layers.Layer):
    """``(tokens [B, N, D], indices [B, K]) -> [B, K, D]``: each example's tokens at its own
    indices (the visible patches, or the unshuffle of MAE's decoder)."""

    def call(self, inputs):
        tokens, indices = inputs
        return tf.gather(tokens, tf.cast(indices, tf.int32), batch_dims=1)

    def compute_output_shape(self, input_shape):
        tokens, indices = input_shape
        return (tokens[0], indices[1], tokens[2])


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class AppendMaskTokens(keras.layers.Layer):
    """``[B, K, D] -> [B, total, D]``: the visible tokens followed by ``total - K`` copies of one
    learned mask token (MAE's decoder input, before the unshuffle)."""

    def __init__(self, total: int, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(total, int) or total < 1:
            raise ValueError(f"total must be a positive integer, got {total!r}")
        self.total = total

    def build(self, input_shape):
        self.mask_token = self.add_weight(
            shape=(1, 1, int(input_shape[-1])),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="mask_token",
        )

    def call(self, tokens):
        missing = self.total - tokens.shape[1]
        filler = tf.tile(tf.cast(self.mask_token, tokens.dtype), [tf.shape(tokens)[0], missing, 1])
        return tf.concat([tokens, filler], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.total, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "total": self.total}
