"""Token layers of the Vision Transformer (Dosovitskiy et al. 2021) and the masked autoencoder
(He et al. 2022): patch embedding, fixed 2-D sine-cosine position embedding, the class token,
random patch masking, token gathering and mask tokens.

Every layer is registered, keeps its arguments in its config (``safe_mode=True`` loads) and
converts to TFLite with builtin ops only (``CONV_2D``, ``RESHAPE``, ``TOPK_V2``, ``GATHER``,
``TILE``, ``CONCATENATION``, ``STRIDED_SLICE``).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.ops.patches import num_kept, random_masking


def _positive_int(value, name: str, layer: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return value


def sincos_position_embedding(grid: int, dim: int) -> np.ndarray:
    """``[grid * grid, dim]`` float32: MAE's fixed 2-D sine-cosine embedding of a row-major
    ``grid x grid`` token grid. The first half of the channels encodes the token's row, the
    second half its column (MAE's reference puts the column first: a fixed permutation of the
    channels, immaterial to what follows), each half ``[sin(pos w_k), cos(pos w_k)]`` with
    ``w_k = 1 / 10000 ** (k / (dim / 4))``, ``k = 0 .. dim / 4 - 1``."""
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
    """Each non-overlapping ``p x p`` patch linearly projected to ``dim`` (a convolution with
    kernel = stride = ``patch_size``), tokens in row-major patch order (ViT's patch embedding).

    Args:
        patch_size: the patch side ``p``; it must divide the image's height and width.
        dim: the token width.

    Input: ``[B, H, W, C]`` with static ``H, W``. Output: ``[B, (H / p) (W / p), dim]``.
    Parameters: ``p * p * C * dim + dim``.
    """

    def __init__(self, patch_size: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = _positive_int(patch_size, "patch_size", "PatchEmbedding")
        self.dim = _positive_int(dim, "dim", "PatchEmbedding")
        self.projection = keras.layers.Conv2D(
            dim, patch_size, strides=patch_size, name="projection"
        )

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None or height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f"PatchEmbedding: patch_size={self.patch_size} must divide the (static) image "
                f"size {height}x{width}"
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
    """Adds :func:`sincos_position_embedding` to the tokens of a ``grid x grid`` patch grid.
    The table is a constant computed from the config (not a weight: nothing is trained or
    saved).

    Args:
        grid: the side of the token grid (``H / p``).

    Input and output: ``[B, grid * grid, dim]`` with ``dim`` divisible by 4.
    """

    def __init__(self, grid: int, **kwargs):
        super().__init__(**kwargs)
        self.grid = _positive_int(grid, "grid", "SinCosPositionEmbedding")

    def build(self, input_shape):
        if input_shape[1] != self.grid**2:
            raise ValueError(
                f"SinCosPositionEmbedding: expected {self.grid**2} tokens (grid={self.grid}), "
                f"got shape {tuple(input_shape)}"
            )
        self._table = sincos_position_embedding(self.grid, int(input_shape[-1]))

    def call(self, tokens):
        return tokens + keras.ops.cast(self._table[None], tokens.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "grid": self.grid}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ClassToken(keras.layers.Layer):
    """Prepends one learned token (ViT's ``[class]`` token, initialised ``N(0, 0.02^2)``):
    ``[B, N, D] -> [B, N + 1, D]``. Parameters: ``D``."""

    def build(self, input_shape):
        self.token = self.add_weight(
            shape=(1, 1, int(input_shape[-1])),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="token",
        )

    def call(self, tokens):
        token = tf.tile(tf.cast(self.token, tokens.dtype), [tf.shape(tokens)[0], 1, 1])
        return tf.concat([token, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        count = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], count, input_shape[2])


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class SelectToken(keras.layers.Layer):
    """``[B, N, D] -> [B, D]``: the token at ``index`` (0: the class token of
    :class:`ClassToken`), ViT's ``pool="token"`` read-out."""

    def __init__(self, index: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"SelectToken: index must be a non-negative integer, got {index!r}")
        self.index = index

    def call(self, tokens):
        return tokens[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class RandomPatchMasking(keras.layers.Layer):
    """``noise [B, N] -> (keep [B, n_keep] int32, mask [B, N] float32, restore [B, N] int32)``;
    see :func:`yeehaw_tf.ops.patches.random_masking`. The randomness is an input, so the layer
    is deterministic (and exports) and the caller draws fresh noise every step. It does not
    autocast: under a mixed-precision policy the noise stays float32 (float16 would tie).

    Args:
        mask_ratio: the fraction of patches masked, in ``[0, 1)``.
    """

    def __init__(self, mask_ratio: float, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        num_kept(1, mask_ratio)  # validates
        self.mask_ratio = float(mask_ratio)

    def call(self, noise):
        return random_masking(noise, self.mask_ratio)

    def compute_output_shape(self, input_shape):
        kept = num_kept(input_shape[1], self.mask_ratio)
        return (input_shape[0], kept), tuple(input_shape), tuple(input_shape)

    def compute_output_spec(self, noise):
        keep, mask, restore = self.compute_output_shape(noise.shape)
        return (
            keras.KerasTensor(keep, dtype="int32"),
            keras.KerasTensor(mask, dtype="float32"),
            keras.KerasTensor(restore, dtype="int32"),
        )

    def get_config(self):
        return {**super().get_config(), "mask_ratio": self.mask_ratio}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class GatherTokens(keras.layers.Layer):
    """``(tokens [B, N, D], indices [B, K] int) -> [B, K, D]``: each example's tokens at its own
    indices, ``out[b, k] = tokens[b, indices[b, k]]`` (MAE's visible tokens, or the decoder's
    unshuffle). No weights."""

    def call(self, inputs):
        tokens, indices = inputs
        return tf.gather(tokens, tf.cast(indices, tf.int32), batch_dims=1)

    def compute_output_shape(self, input_shape):
        tokens, indices = input_shape
        return (tokens[0], indices[1], tokens[2])


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class AppendMaskTokens(keras.layers.Layer):
    """``[B, K, D] -> [B, total, D]``: the visible tokens followed by ``total - K`` copies of
    one learned mask token (``N(0, 0.02^2)`` initialised; MAE's decoder input before the
    unshuffle). Parameters: ``D``.

    Args:
        total: the number of patches ``N`` (at least ``K``).
    """

    def __init__(self, total: int, **kwargs):
        super().__init__(**kwargs)
        self.total = _positive_int(total, "total", "AppendMaskTokens")

    def build(self, input_shape):
        if input_shape[1] is None or input_shape[1] > self.total:
            raise ValueError(
                f"AppendMaskTokens: needs a static number of tokens <= total={self.total}, "
                f"got shape {tuple(input_shape)}"
            )
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
