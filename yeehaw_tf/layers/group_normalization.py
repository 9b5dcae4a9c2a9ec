"""Normalisation over features of one example: layer, group and instance normalisation."""

from __future__ import annotations

import keras
from keras import ops


class _PerExampleNormalization(keras.layers.Layer):
    """Shared weights and affine step of the per-example normalisations (channels last).

    Under a mixed dtype policy (``mixed_float16``, ``mixed_bfloat16``) the input is not cast to
    the compute dtype on the way in, the statistics and the affine step run in float32 with
    float32 ``gamma`` and ``beta``, and the output is in the compute dtype -- as Keras's own
    normalisation layers do."""

    def __init__(self, epsilon: float, center: bool, scale: bool, **kwargs):
        super().__init__(**kwargs)
        self.autocast = False  # a float16 cast before ``call`` would overflow past 65504
        if not epsilon > 0:
            raise ValueError(f"{type(self).__name__}: epsilon must be > 0, got {epsilon}")
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def _build_affine(self, channels: int):
        self.gamma = (
            self.add_weight(shape=(channels,), initializer="ones", name="gamma", autocast=False)
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(shape=(channels,), initializer="zeros", name="beta", autocast=False)
            if self.center
            else None
        )

    def _normalize(self, x, axes, param_shape):
        """``gamma * (x - mean) / sqrt(var + eps) + beta`` with statistics over ``axes``,
        computed as ``x * a + b`` with ``gamma`` folded into ``a`` (two passes over ``x``)."""
        mean = ops.mean(x, axis=axes, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
        scale = ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            scale = scale * ops.reshape(ops.cast(self.gamma, x.dtype), param_shape)
        shift = -mean * scale
        if self.beta is not None:
            shift = shift + ops.reshape(ops.cast(self.beta, x.dtype), param_shape)
        return x * scale + shift

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class LayerNormalization(_PerExampleNormalization):
    """Layer normalisation (Ba et al., 2016): standardise each example over its last axis, then
    ``gamma * x + beta`` per feature. Same defaults as ``keras.layers.LayerNormalization``.

    Input and output shape: the same, ``(..., features)``.
    """

    def __init__(self, epsilon: float = 1e-3, center: bool = True, scale: bool = True, **kwargs):
        super().__init__(epsilon, center, scale, **kwargs)

    def build(self, input_shape):
        self._build_affine(input_shape[-1])

    def call(self, inputs):
        x = ops.cast(inputs, "float32") if inputs.dtype in ("float16", "bfloat16") else inputs
        y = self._normalize(x, [-1], [-1])
        return ops.cast(y, self.compute_dtype)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class GroupNormalization(_PerExampleNormalization):
    """Group normalisation (Wu & He, 2018): split the channels into ``groups`` and standardise
    each group of each example over its spatial positions and channels; then a per-channel
    ``gamma * x + beta``. Same defaults as ``keras.layers.GroupNormalization``.

    ``groups=1`` normalises over all features of an example (layer norm over C, H, W);
    ``groups=C`` is instance normalisation.

    Args:
        groups: number of groups; must divide the channel count. ``-1`` means one group per
            channel.

    Input and output shape: the same, ``(batch, ..., channels)``.
    """

    def __init__(
        self,
        groups: int = 32,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        **kwargs,
    ):
        super().__init__(epsilon, center, scale, **kwargs)
        if not isinstance(groups, int) or (groups < 1 and groups != -1):
            raise ValueError(
                f"{type(self).__name__}: groups must be a positive integer or -1, got {groups!r}"
            )
        self.groups = groups

    def build(self, input_shape):
        minimum = 3 if self.groups == -1 else 2  # instance norm needs positions to average over
        if len(input_shape) < minimum:
            raise ValueError(
                f"{type(self).__name__}: input needs rank >= {minimum}, got {input_shape}"
            )
        channels = input_shape[-1]
        groups = channels if self.groups == -1 else self.groups
        if channels is None or channels % groups:
            raise ValueError(
                f"{type(self).__name__}: {channels} channels cannot be split into {groups} groups"
            )
        self._groups = groups
        self._build_affine(channels)

    def call(self, inputs):
        x = ops.cast(inputs, "float32") if inputs.dtype in ("float16", "bfloat16") else inputs
        shape = ops.shape(x)
        channels = shape[-1]
        grouped = ops.reshape(x, (*shape[:-1], self._groups, channels // self._groups))
        rank = len(grouped.shape)
        axes = [i for i in range(1, rank) if i != rank - 2]  # all but batch and group
        param_shape = [1] * (rank - 2) + [self._groups, channels // self._groups]
        y = ops.reshape(self._normalize(grouped, axes, param_shape), shape)
        return ops.cast(y, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class InstanceNormalization(GroupNormalization):
    """Instance normalisation (Ulyanov et al., 2016): each channel of each example standardised
    over its spatial positions -- group normalisation with one channel per group.

    ``axis``: tensorflow-addons' argument, accepted for ports; only the channels-last ``-1``.
    """

    def __init__(
        self, epsilon: float = 1e-3, center: bool = True, scale: bool = True, axis=-1, **kwargs
    ):
        if axis != -1:
            raise ValueError(
                f"InstanceNormalization: axis must be -1 (channels last), got {axis!r}"
            )
        super().__init__(groups=-1, epsilon=epsilon, center=center, scale=scale, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        return config
