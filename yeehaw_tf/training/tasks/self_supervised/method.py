"""What a pre-training method is to the self-supervised task: heads on the shared encoder and
the loss of one batch. Each method is one small class; ``METHOD_CLASSES`` maps the names of
``options.METHODS`` to them.

A method's :meth:`Method.loss` gets the task's models (``encoder`` and its own heads), the
batch and the step's stateless randomness (``ctx.random``, the same on every replica and after
a resume) and returns a :class:`~yeehaw_tf.training.tasks.LossOutput` whose ``total`` is the
sum over this replica's examples; ``outputs`` is ``{"labels", "logits"}`` for methods that
classify (their pretext accuracy is a training and evaluation metric), else ``None``.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from yeehaw_tf.training.tasks.base import LossOutput


@dataclasses.dataclass(frozen=True)
class Geometry:
    """What a method knows about its data: image shape (after resizing and tint) and classes."""

    image_shape: tuple[int, int, int]
    num_classes: int


def pooled(feature_map: tf.Tensor) -> tf.Tensor:
    """The embedding: the global average of the encoder's feature map ``[B, h, w, D] -> [B, D]``."""
    return tf.reduce_mean(feature_map, axis=[1, 2])


def mlp_head(inputs: int, hidden: int, outputs: int, name: str, norm: bool = False) -> keras.Model:
    """``Dense(hidden) [-> BatchNorm] -> ReLU -> Dense(outputs)``: the methods' small heads."""
    x = keras.Input((inputs,), name=f"{name}_inputs")
    h = keras.layers.Dense(hidden, use_bias=not norm, name="hidden")(x)
    if norm:
        h = keras.layers.BatchNormalization(name="hidden_norm")(h)
    h = keras.layers.ReLU(name="hidden_relu")(h)
    y = keras.layers.Dense(outputs, dtype="float32", name="out")(h)
    return keras.Model(x, y, name=name)


def cross_entropy(labels, logits) -> tf.Tensor:
    """Per-example softmax cross-entropy, float32 (mean over any positions after the batch)."""
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=tf.cast(logits, tf.float32)
    )
    return tf.reshape(losses, [tf.shape(losses)[0], -1])


class Method:
    """Base of the methods. ``views``: the batch holds two augmented views per image."""

    name = ""
    views = False
    classifies = True  # outputs {"labels", "logits"}: a pretext accuracy to report

    def __init__(self, options, geometry: Geometry):
        self.options = options
        self.geometry = geometry

    def heads(self, embedding_dim: int) -> dict[str, keras.Model]:
        """The method's models besides the encoder, by name."""
        return {}

    def probe_input(self) -> keras.layers.Layer | None:
        """A layer preparing raw images for the encoder in its embedding model (and exports),
        when the method trains it on something else than the images themselves."""
        return None

    def loss(self, models, batch, training: bool, random) -> LossOutput:
        raise NotImplementedError

    def classified(self, labels, logits) -> LossOutput:
        """Cross-entropy (averaged over positions, summed over examples) with its outputs."""
        per_example = tf.reduce_mean(cross_entropy(labels, logits), axis=1)
        return LossOutput(
            total=tf.reduce_sum(per_example), outputs={"labels": labels, "logits": logits}
        )


class Supervised(Method):
    """The baseline: the encoder and a linear classifier trained on the labels."""

    name = "supervised"

    def heads(self, embedding_dim):
        x = keras.Input((embedding_dim,), name="embeddings")
        logits = keras.layers.Dense(self.geometry.num_classes, dtype="float32", name="logits")(x)
        return {"classifier": keras.Model(x, logits, name="classifier")}

    def loss(self, models, batch, training, random):
        images, labels = batch
        embeddings = pooled(models["encoder"](images, training=training))
        return self.classified(labels, models["classifier"](embeddings, training=training))
