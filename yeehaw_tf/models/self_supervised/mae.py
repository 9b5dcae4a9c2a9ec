"""The masked autoencoder (He et al. 2022) on the Vision Transformer.

``images`` and ``noise`` (uniform ``[B, N]``, drawn by the caller each step) go in; the patches
with the ``(1 - mask_ratio) N`` smallest noise values are the visible ones. The encoder (patch
embedding, positions, blocks, norm: a :func:`~yeehaw_tf.models.self_supervised.vit.vit`'s
layers) runs on the visible tokens only; the lightweight decoder projects them to
``decoder_dim``, appends a learned mask token for every masked patch, unshuffles them to the
patches' order, adds its own positions, runs its blocks and predicts every patch's pixels.
Outputs: ``reconstruction [B, N, p * p * C]`` (all patches, original order) and ``mask [B, N]``
(1 = masked). :func:`mae_encoder` shares the encoder's layers on unmasked images.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from yeehaw_tf.layers.tokens import (
    AppendMaskTokens,
    GatherTokens,
    PatchEmbedding,
    RandomPatchMasking,
    SinCosPositionEmbedding,
)
from yeehaw_tf.layers.transformer_block import TransformerBlock
from yeehaw_tf.models.self_supervised.vit import check_vit_args

ENCODER_LAYERS = ("patch_embedding", "positions", "norm")  # plus block1..blockN


def masked_autoencoder(
    input_shape: Sequence[int] = (32, 32, 3),
    patch_size: int = 4,
    dim: int = 64,
    depth: int = 4,
    heads: int = 4,
    mlp_ratio: float = 2.0,
    decoder_dim: int = 32,
    decoder_depth: int = 1,
    decoder_heads: int = 4,
    mask_ratio: float = 0.75,
    name: str = "mae",
) -> keras.Model:
    grid = check_vit_args(input_shape, patch_size, dim, depth, heads)
    check_vit_args(input_shape, patch_size, decoder_dim, decoder_depth, decoder_heads)
    count = grid * grid
    images = keras.Input(tuple(input_shape), name="images")
    noise = keras.Input((count,), name="noise")
    keep, mask, restore = RandomPatchMasking(mask_ratio, name="masking")(noise)
    x = PatchEmbedding(patch_size, dim, name="patch_embedding")(images)
    x = SinCosPositionEmbedding(grid, name="positions")(x)
    x = GatherTokens(name="visible")([x, keep])
    for i in range(depth):
        x = TransformerBlock(dim, heads, mlp_ratio, name=f"block{i + 1}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
    # the decoder
    y = keras.layers.Dense(decoder_dim, name="decoder_embedding")(x)
    y = AppendMaskTokens(count, name="mask_tokens")(y)
    y = GatherTokens(name="unshuffle")([y, restore])
    y = SinCosPositionEmbedding(grid, name="decoder_positions")(y)
    for i in range(decoder_depth):
        y = TransformerBlock(decoder_dim, decoder_heads, mlp_ratio, name=f"decoder_block{i + 1}")(y)
    y = keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")(y)
    pixels = patch_size * patch_size * int(input_shape[-1])
    y = keras.layers.Dense(pixels, dtype="float32", name="prediction")(y)
    return keras.Model(
        {"images": images, "noise": noise}, {"reconstruction": y, "mask": mask}, name=name
    )


def mae_encoder(mae: keras.Model, name: str = "mae_encoder") -> keras.Model:
    """The MAE's encoder on whole images (no masking): ``[B, H, W, C] -> [B, dim]``, the mean
    of its tokens; the same layer objects as ``mae``, so the weights are shared."""
    images = keras.Input(tuple(mae.inputs[0].shape[1:]), name="images")
    x = mae.get_layer("patch_embedding")(images)
    x = mae.get_layer("positions")(x)
    depth = sum(1 for layer in mae.layers if layer.name.startswith("block"))
    for i in range(depth):
        x = mae.get_layer(f"block{i + 1}")(x)
    x = mae.get_layer("norm")(x)
    embeddings = keras.layers.GlobalAveragePooling1D(name="embeddings")(x)
    return keras.Model(images, embeddings, name=name)


def patch_size_of(mae: keras.Model) -> int:
    layer = mae.get_layer("patch_embedding")
    if not isinstance(layer, PatchEmbedding):
        raise ValueError(f"{mae.name} has no PatchEmbedding layer named patch_embedding")
    return layer.patch_size
