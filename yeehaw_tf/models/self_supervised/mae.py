"""The masked autoencoder (He et al. 2022) on the Vision Transformer, as one functional model.

Inputs ``{"images": [B, H, W, C] float, "noise": [B, N] float}`` (``N = (H / p)^2``; the noise
is uniform, drawn by the caller each step, so the model is deterministic and exports). The
patches with the ``n_keep = int(N (1 - mask_ratio))`` smallest noise values are the visible
ones. The encoder (patch embedding, sine-cosine positions, blocks, norm: the layers of a
:func:`~yeehaw_tf.models.self_supervised.vit.vit`, with the same names) runs on the visible
tokens only; the lightweight decoder projects them to ``decoder_dim``, appends a learned mask
token for every masked patch, unshuffles them to the patches' order, adds its own fixed
positions, runs its blocks and predicts every patch's ``p * p * C`` pixels. Outputs
``{"reconstruction": [B, N, p * p * C]`` (all patches, original order, as
:func:`~yeehaw_tf.ops.patches.patchify` orders them) ``, "mask": [B, N]}`` (1 = masked); the
loss is :func:`~yeehaw_tf.losses.masked_autoencoder.masked_patch_mse`.

:func:`mae_encoder` shares the encoder's layers on whole images (no masking) for probes and
export; :func:`reconstruct_images` makes the pictures.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from yeehaw_tf.layers.tokens import (
    AppendMaskTokens,
    GatherTokens,
    PatchEmbedding,
    RandomPatchMasking,
    SinCosPositionEmbedding,
)
from yeehaw_tf.layers.transformer_block import TransformerBlock
from yeehaw_tf.losses.masked_autoencoder import NORM_EPSILON
from yeehaw_tf.models.self_supervised.vit import VITS, check_vit_args
from yeehaw_tf.ops.patches import num_kept, patchify, unpatchify

ENCODER_LAYERS = ("patch_embedding", "positions", "norm")  # plus block1..blockN
# Variants: a ViT encoder of VITS plus the decoder. Parameters on 32x32x3 images:
MAES = {
    # 149,456 (137,152 of them the encoder's)
    "mae_tiny": {**VITS["vit_tiny"], "decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 4},
    # 879,920 (801,408 the encoder's)
    "mae_small": {**VITS["vit_small"], "decoder_dim": 64, "decoder_depth": 2, "decoder_heads": 4},
}


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
    """Builds the MAE (see the module's docstring for its inputs and outputs).

    Args:
        input_shape: square ``(H, W, C)`` images, ``H`` divisible by ``patch_size``.
        patch_size, dim, depth, heads, mlp_ratio: the encoder (as :func:`vit`'s).
        decoder_dim, decoder_depth, decoder_heads: the decoder's blocks (``mlp_ratio`` too).
        mask_ratio: the fraction of patches masked, in ``[0, 1)``.
    """
    grid = check_vit_args(input_shape, patch_size, dim, depth, heads)
    check_vit_args(input_shape, patch_size, decoder_dim, decoder_depth, decoder_heads, "decoder_")
    count = grid * grid
    num_kept(count, mask_ratio)  # validates before any layer is built
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


def _images_input(mae: keras.Model):
    for tensor in mae.inputs:
        if tensor.name == "images":
            return tensor
    raise ValueError(f"{mae.name} has no input named 'images'; is it a masked_autoencoder?")


def mae_encoder(mae: keras.Model, name: str = "mae_encoder") -> keras.Model:
    """The MAE's encoder on whole images (every patch visible, no masking):
    ``[B, H, W, C] -> [B, dim]``, the mean of its normalised tokens (the output layer is named
    ``embeddings``). It calls the same layer objects as ``mae``, so the weights are shared:
    training the MAE trains it."""
    images = keras.Input(tuple(_images_input(mae).shape[1:]), name="images")
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


def reconstruct_images(
    mae: keras.Model, images, noise, normalized_targets: bool = False
) -> tf.Tensor:
    """Pictures of the reconstruction: ``[B, H, W, C]`` with the masked patches predicted and
    the visible ones the input's (the paper's figures). ``normalized_targets``: the MAE was
    trained on per-patch normalised targets, so each prediction is mapped back with its true
    patch's mean and standard deviation (as MAE's visualisation does)."""
    images = tf.convert_to_tensor(images, tf.float32)
    noise = tf.convert_to_tensor(noise, tf.float32)
    outputs = mae({"images": images, "noise": noise}, training=False)
    patch = patch_size_of(mae)
    target = patchify(images, patch)
    predicted = tf.cast(outputs["reconstruction"], tf.float32)
    if normalized_targets:
        mean, variance = tf.nn.moments(target, axes=[-1], keepdims=True)
        predicted = predicted * tf.sqrt(variance + NORM_EPSILON) + mean
    mask = tf.cast(outputs["mask"], tf.float32)[..., None]
    return unpatchify(predicted * mask + target * (1.0 - mask), patch, images.shape[1:])
