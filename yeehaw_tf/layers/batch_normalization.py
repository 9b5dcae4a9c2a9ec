"""Batch normalisation (Ioffe & Szegedy, 2015), from the formula."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def _moments(x, axes, channels: int, synchronized: bool):
    """Mean and biased variance over ``axes``; across all replicas when ``synchronized``."""
    replica = tf.distribute.get_replica_context()
    if synchronized and replica is not None and replica.num_replicas_in_sync > 1:
        count = ops.cast(ops.size(x), x.dtype) / channels
        sums = ops.stack([ops.sum(x, axes), ops.sum(ops.square(x), axes)])
        count, sums = replica.all_reduce(tf.distribute.ReduceOp.SUM, [count, sums])
        mean = sums[0] / count
        return mean, ops.maximum(sums[1] / count - ops.square(mean), 0.0)
    mean = ops.mean(x, axis=axes, keepdims=True)
    # d var / d mean = -2 mean(x - mean) = 0: stopping it changes no gradient, only saves work
    variance = ops.mean(ops.square(x - ops.stop_gradient(mean)), axis=axes)
    return ops.reshape(mean, (channels,)), variance


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class BatchNormalization(keras.layers.Layer):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta``, statistics per channel.

    In training the mean and (biased) variance are those of the batch, and the moving averages
    are updated as ``moving = momentum * moving + (1 - momentum) * batch`` -- the same semantics
    as ``keras.layers.BatchNormalization``. In inference the moving averages are used. The
    shift ``beta`` and scale ``gamma`` are learned, so the network can undo the normalisation.

    Args:
        axis: the channel axis (default -1).
        momentum: moving-average momentum (default 0.99, as Keras).
        epsilon: added to the variance (default 1e-3, as Keras).
        center, scale: learn ``beta`` / ``gamma``.
        synchronized: under a ``tf.distribute`` strategy with several replicas, compute the
            statistics over the global batch (all-reduce) instead of each replica's share.

    Input and output shape: the same, any rank >= 2.
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        synchronized: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1), got {momentum}")
        if not epsilon > 0:
            raise ValueError(f"BatchNormalization: epsilon must be > 0, got {epsilon}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.synchronized = bool(synchronized)

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"BatchNormalization: axis {self.axis} is out of range for input rank {rank}"
            )
        axis = self.axis % rank
        self._axis = axis
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(f"BatchNormalization: the channel axis {self.axis} must be known")
        self._reduction_axes = [i for i in range(rank) if i != axis]
        self._broadcast = [1] * rank
        self._broadcast[axis] = channels
        shape = (channels,)
        self.gamma = (
            self.add_weight(shape=shape, initializer="ones", name="gamma", autocast=False)
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(shape=shape, initializer="zeros", name="beta", autocast=False)
            if self.center
            else None
        )
        self.moving_mean = self.add_weight(
            shape=shape,
            initializer="zeros",
            name="moving_mean",
            trainable=False,
            autocast=False,
            aggregation="mean",
        )
        self.moving_variance = self.add_weight(
            shape=shape,
            initializer="ones",
            name="moving_variance",
            trainable=False,
            autocast=False,
            aggregation="mean",
        )

    def call(self, inputs, training=None):
        x = ops.cast(inputs, "float32") if inputs.dtype in ("float16", "bfloat16") else inputs
        if training and self.trainable:
            mean, variance = _moments(
                x, self._reduction_axes, self._broadcast[self._axis], self.synchronized
            )
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + ops.cast(mean, "float32") * (1 - m))
            self.moving_variance.assign(
                self.moving_variance * m + ops.cast(variance, "float32") * (1 - m)
            )
        else:
            mean = ops.cast(self.moving_mean, x.dtype)
            variance = ops.cast(self.moving_variance, x.dtype)
        inv = ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * ops.cast(self.gamma, x.dtype)
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + ops.cast(self.beta, x.dtype)
        outputs = x * ops.reshape(inv, self._broadcast) + ops.reshape(shift, self._broadcast)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "synchronized": self.synchronized,
        }
