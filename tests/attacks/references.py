"""Float64 NumPy references for the attacks, on a linear-softmax classifier whose input
gradient is written by hand, and the Keras model that computes the same function.

The model standardises per channel, ``z = (x - mean) / std``, flattens and applies one dense
layer, ``logits = W z + b``. For ``J = CE(softmax(logits), y)``:
``grad_x J = (W^T (softmax(logits) - onehot(y))) / std`` (reshaped to the image, the division
per channel).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from yeehaw_tf.layers import ChannelStandardization


@dataclasses.dataclass(frozen=True)
class LinearSoftmax:
    """The reference classifier's parameters (float32 values, used in float64)."""

    weights: np.ndarray  # [H * W * C, classes]
    bias: np.ndarray  # [classes]
    mean: np.ndarray  # [C]
    std: np.ndarray  # [C]

    @classmethod
    def random(cls, image_shape=(4, 4, 2), classes=5, seed=0) -> LinearSoftmax:
        rng = np.random.default_rng(seed)
        size = int(np.prod(image_shape))
        channels = image_shape[-1]
        as32 = lambda a: np.asarray(a, np.float32).astype(np.float64)
        return cls(
            weights=as32(rng.normal(0.0, 0.4, (size, classes))),
            bias=as32(rng.normal(0.0, 0.1, classes)),
            mean=as32(rng.uniform(90, 160, channels)),
            std=as32(rng.uniform(40, 80, channels)),
        )

    def keras_model(self, image_shape) -> keras.Model:
        inputs = keras.Input(image_shape)
        x = ChannelStandardization(self.mean, self.std)(inputs)
        x = keras.layers.Flatten()(x)
        dense = keras.layers.Dense(len(self.bias))
        model = keras.Model(inputs, dense(x))
        dense.set_weights([self.weights.astype(np.float32), self.bias.astype(np.float32)])
        return model

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.std).reshape(len(x), -1)
        return z @ self.weights + self.bias

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = self.logits(x)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return -np.log(self.probabilities(x)[np.arange(len(x)), y])

    def gradient(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        delta = self.probabilities(x)
        delta[np.arange(len(x)), y] -= 1.0
        return (delta @ self.weights.T).reshape(x.shape) / self.std


def np_fgsm(model: LinearSoftmax, x, y, epsilon, low=0.0, high=255.0):
    """``clip(x + eps * sign(g), low, high)``; also returns the gradient's smallest |entry|."""
    g = model.gradient(x, y)
    return np.clip(x + epsilon * np.sign(g), low, high), np.abs(g).min()


def np_iterate(model: LinearSoftmax, x, y, epsilon, alpha, iterations, direction, low, high):
    """The iterative method with a plain loop; returns the result, the smallest |gradient
    entry| seen and how many entries the epsilon-ball and the pixel range clipped."""
    adversarial, smallest = x.copy(), np.inf
    clipped_by_ball = clipped_by_range = 0
    for _ in range(iterations):
        g = model.gradient(adversarial, y)
        smallest = min(smallest, np.abs(g).min())
        step = adversarial + direction * alpha * np.sign(g)
        in_range = np.clip(step, low, high)
        clipped_by_range += int(np.sum(in_range != step))
        clipped_by_ball += int(np.sum(np.abs(step - x) > epsilon))
        adversarial = np.minimum(
            np.minimum(high, x + epsilon), np.maximum(np.maximum(low, x - epsilon), step)
        )
    return adversarial, smallest, clipped_by_ball, clipped_by_range


def np_least_likely_class(model: LinearSoftmax, x) -> np.ndarray:
    return np.argmin(model.probabilities(x), axis=1)
