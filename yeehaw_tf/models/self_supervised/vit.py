"""The Vision Transformer (Dosovitskiy et al. 2021), sized for 32x32 images on a CPU.

Non-overlapping ``p x p`` patches are projected to tokens, given fixed 2-D sine-cosine positions
(as MAE uses; the paper's learned 1-D positions do no better), passed through pre-norm
Transformer blocks and a final layer norm. The embedding is the mean of the tokens
(``pool="mean"``, as MAE's fine-tuned classifier) or a learned class token prepended to them
(``pool="token"``, the paper's); a linear layer gives the logits. Variants are data
(:data:`VITS`). The layer names (``patch_embedding``, ``positions``, ``block<i>``, ``norm``) are
those of :func:`~yeehaw_tf.models.self_supervised.mae.masked_autoencoder`'s encoder, so a
mean-pooled ViT takes an MAE's encoder weights layer by layer.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import keras

from yeehaw_tf.layers.tokens import ClassToken, PatchEmbedding, SelectToken, SinCosPositionEmbedding
from yeehaw_tf.layers.transformer_block import TransformerBlock
from yeehaw_tf.models.validation import check_classifier_args

# Each variant has ``patch_size, dim, depth, heads, mlp_ratio`` only (the encoder of an MAE takes
# the same keys). Parameters with 10 classes on 32x32x3 images (8x8 = 64 tokens):
VITS = {
    # 137,802 parameters; one training step on 32 images takes ~0.1 s on a CPU
    "vit_tiny": {"patch_size": 4, "dim": 64, "depth": 4, "heads": 4, "mlp_ratio": 2.0},
    # 802,698 parameters
    "vit_small": {"patch_size": 4, "dim": 128, "depth": 6, "heads": 4, "mlp_ratio": 2.0},
}
POOLS = ("mean", "token")


def check_vit_args(
    input_shape: Sequence[int],
    patch_size: int,
    dim: int,
    depth: int,
    heads: int,
    prefix: str = "",
) -> int:
    """Validates a ViT encoder's (or, with ``prefix="decoder_"``, an MAE decoder's) sizes;
    returns the side of the token grid. Images must be square with a side divisible by
    ``patch_size``; ``dim`` divisible by ``heads`` and by 4 (the sine-cosine positions)."""
    if not isinstance(patch_size, numbers.Integral) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    if len(input_shape) != 3 or any(not isinstance(d, int) or d < 1 for d in input_shape):
        raise ValueError(
            f"input_shape must be (height, width, channels) of positive integers, "
            f"got {tuple(input_shape)!r}"
        )
    height, width = input_shape[0], input_shape[1]
    if height != width or height % patch_size:
        raise ValueError(
            f"input_shape {tuple(input_shape)} must be square with a side divisible by "
            f"patch_size={patch_size}"
        )
    for name, value in (
        (f"{prefix}dim", dim),
        (f"{prefix}depth", depth),
        (f"{prefix}heads", heads),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if dim % heads or dim % 4:
        raise ValueError(
            f"{prefix}dim={dim} must be divisible by {prefix}heads={heads} and by 4 (the "
            f"sine-cosine position embedding)"
        )
    return height // int(patch_size)


def vit_tokens(
    x,
    patch_size: int,
    dim: int,
    depth: int,
    heads: int,
    mlp_ratio: float,
    dropout: float,
    prefix: str = "",
    class_token: bool = False,
):
    """Patch embedding, positions, [class token,] blocks and the final norm on a symbolic
    image tensor: ``[B, H, W, C] -> [B, N (+ 1), dim]``."""
    grid = x.shape[1] // patch_size
    x = PatchEmbedding(patch_size, dim, name=f"{prefix}patch_embedding")(x)
    x = SinCosPositionEmbedding(grid, name=f"{prefix}positions")(x)
    if class_token:
        x = ClassToken(name=f"{prefix}class_token")(x)
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
    pool: str = "mean",
    dropout: float = 0.0,
    features: bool = False,
    name: str = "vit",
) -> keras.Model:
    """A ViT classifier from (standardised) float images ``[B, H, W, C]`` to logits
    ``[B, num_classes]``.

    Parameters (``p`` = patch_size, ``C`` channels, ``h = round(dim * mlp_ratio)``):
    ``p^2 C dim + dim`` (patch embedding) ``+ depth * (4 dim + 4 dim^2 + 4 dim + 2 dim h + h +
    dim)`` (blocks) ``+ 2 dim`` (final norm) ``+ dim * classes + classes`` (head), plus ``dim``
    for the class token with ``pool="token"``; the positions are fixed.

    Args:
        pool: ``mean`` (the mean of the tokens) or ``token`` (a learned class token).
        dropout: in [0, 1), in every block (attention probabilities and residual branches).
        features: return the model to the pooled embedding ``[B, dim]`` instead, as a dict
            ``{"embeddings": ...}`` (no classifier).
    """
    check_vit_args(input_shape, patch_size, dim, depth, heads)
    check_classifier_args(num_classes, input_shape, min_size=patch_size)
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
    inputs = keras.Input(tuple(input_shape), name="images")
    tokens = vit_tokens(
        inputs, patch_size, dim, depth, heads, mlp_ratio, dropout, class_token=pool == "token"
    )
    if pool == "token":
        embeddings = SelectToken(0, name="embeddings")(tokens)
    else:
        embeddings = keras.layers.GlobalAveragePooling1D(name="embeddings")(tokens)
    if features:
        return keras.Model(inputs, {"embeddings": embeddings}, name=name)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(embeddings)
    return keras.Model(inputs, logits, name=name)
