"""The DDPM noise-prediction network: a small time-conditioned U-Net (Ho et al. 2020, appendix
B, scaled down).

``(x_t [batch, H, W, C], t [batch] int) -> eps_hat [batch, H, W, C]``. The timestep goes through
the sinusoidal embedding and a two-layer MLP; each residual block (GroupNorm, swish, 3x3 conv,
twice) adds a per-block projection of it between its convolutions. The encoder halves the
resolution ``len(widths) - 1`` times; the decoder upsamples (nearest, then a conv) and
concatenates the encoder's map at each scale. The output convolution starts at zero, so the
untrained network predicts ``eps_hat = 0``.
"""

from __future__ import annotations

import keras

from yeehaw_tf.layers.group_normalization import GroupNormalization
from yeehaw_tf.layers.time_embedding import SinusoidalEmbedding


def _norm(channels: int, name: str) -> GroupNormalization:
    return GroupNormalization(groups=min(8, channels), epsilon=1e-5, name=name)


def _residual_block(x, time, channels: int, name: str):
    h = keras.layers.Activation("swish")(_norm(int(x.shape[-1]), f"{name}_norm1")(x))
    h = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv1")(h)
    shift = keras.layers.Dense(channels, name=f"{name}_time")(time)
    h = h + keras.layers.Reshape((1, 1, channels))(shift)
    h = keras.layers.Activation("swish")(_norm(channels, f"{name}_norm2")(h))
    h = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv2")(h)
    if x.shape[-1] != channels:
        x = keras.layers.Conv2D(channels, 1, name=f"{name}_skip")(x)
    return keras.layers.Add(name=f"{name}_out")([x, h])


def ddpm_unet(
    image_shape=(8, 8, 1),
    widths: tuple[int, ...] = (32, 64, 64),
    time_dim: int = 32,
    name: str = "eps_model",
) -> keras.Model:
    """The U-Net; ``image_shape``'s sides must be divisible by ``2 ** (len(widths) - 1)``."""
    image_shape = tuple(int(d) for d in image_shape)
    widths = tuple(int(w) for w in widths)
    if not widths or min(widths) < 1:
        raise ValueError(f"widths must be positive channel counts, got {widths}")
    factor = 2 ** (len(widths) - 1)
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(
            f"image_shape {image_shape[:2]} must be divisible by {factor} (len(widths) - 1 "
            "halvings)"
        )
    images = keras.Input(image_shape, name="noisy_images")
    timesteps = keras.Input((), dtype="int32", name="timesteps")
    time = SinusoidalEmbedding(time_dim, name="time_embedding")(timesteps)
    time = keras.layers.Dense(4 * time_dim, activation="swish", name="time_mlp1")(time)
    time = keras.layers.Dense(4 * time_dim, activation="swish", name="time_mlp2")(time)

    x = keras.layers.Conv2D(widths[0], 3, padding="same", name="stem")(images)
    skips = []
    for level, channels in enumerate(widths):
        x = _residual_block(x, time, channels, f"down{level}")
        if level < len(widths) - 1:
            skips.append(x)
            x = keras.layers.Conv2D(channels, 3, 2, "same", name=f"downsample{level}")(x)
    x = _residual_block(x, time, widths[-1], "middle")
    for level in range(len(widths) - 2, -1, -1):
        x = keras.layers.UpSampling2D(2, name=f"upsample{level}")(x)
        x = keras.layers.Conv2D(widths[level], 3, padding="same", name=f"up{level}_conv")(x)
        x = keras.layers.Concatenate(name=f"up{level}_concat")([x, skips[level]])
        x = _residual_block(x, time, widths[level], f"up{level}")
    x = keras.layers.Activation("swish")(_norm(widths[0], "out_norm")(x))
    eps = keras.layers.Conv2D(
        image_shape[-1], 3, padding="same", kernel_initializer="zeros", name="eps"
    )(x)
    return keras.Model({"noisy_images": images, "timesteps": timesteps}, eps, name=name)
