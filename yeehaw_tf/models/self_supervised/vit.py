"""The Vision Transformer (Dosovitskiy et al. 2021), sized for 32x32 images on a CPU.

Non-overlapping patches are projected to tokens, given fixed 2-D sine-cosine positions (as
MAE uses), passed through pre-norm Transformer blocks and a final layer norm; the embedding is
the mean of the tokens (``pool="mean"``, as MAE's classifier; no class token), and a linear
layer gives the logits. Variants are data (:data:`VITS`).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from yeehaw_tf.layers.tokens import PatchEmbedding, SinCosPositionEmbedding
from yeehaw_tf.layers.transformer_block import TransformerBlock
from yeehaw_tf.models.validation import check_classifier_args

VITS = {
    # 8x8 = 64 tokens of width 64 on 32x32 images: 0.13M parameters in its 4 blocks
    "vit_tiny": {"patch_size": 4, "dim": 64, "depth": 4, "heads": 4, "mlp_ratio": 2.0},
}


def check_vit_args(input_shape, patch_size: int, dim: int, depth: int, heads: int) -> int:
    """Validates the arguments; returns the side of the token grid."""
    height, width = input_shape[0], input_shape[1]
    if height != width or height % patch_size:
        raise ValueError(
            f"input_shape {tuple(input_shape)} must be square with a side divisible by "
            f"patch_size={patch_size}"
        )
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    if dim % heads or dim % 4:
        raise ValueError(f"dim={dim} must be divisible by heads={heads} and by 4")
    return height // patch_size


def vit_tokens(x, patch_size, dim, depth, heads, mlp_ratio, dropout, prefix=""):
    """Patch embedding, positions, blocks and the final norm: ``[B, H, W, C] -> [B, N, dim]``."""
    grid = x.shape[1] // patch_size
    x = PatchEmbedding(patch_size, dim, name=f"{prefix}patch_embedding")(x)
    x = SinCosPositionEmbedding(grid, name=f"{prefix}positions")(x)
    for i in range(depth):
        x = TransformerBlock(dim, heads, mlp_ratio, dropout, name=f"{prefix}block{i + 1}")(x)
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}norm")(x)


def vit(
    num_classes: int = 10,
    input_shape: Sequence[int] = (32, 32, 3),
    patch_size: int = 4,
    dim: int = 64,
    depth: int = 4,
    heads: int = 4,
    mlp_ratio: float = 2.0,
    dropout: float = 0.0,
    features: bool = False,
    name: str = "vit",
) -> keras.Model:
    """A ViT classifier from (standardised) float images to logits ``[B, num_classes]``;
    ``features=True``: to the mean-pooled token embedding ``[B, dim]`` (output
    ``embeddings``)."""
    check_classifier_args(num_classes, input_shape, min_size=patch_size)
    check_vit_args(input_shape, patch_size, dim, depth, heads)
    inputs = keras.Input(tuple(input_shape), name="images")
    tokens = vit_tokens(inputs, patch_size, dim, depth, heads, mlp_ratio, dropout)
    embeddings = keras.layers.GlobalAveragePooling1D(name="embeddings")(tokens)
    if features:
        return keras.Model(inputs, {"embeddings": embeddings}, name=name)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(embeddings)
    return keras.Model(inputs, logits, name=name)
