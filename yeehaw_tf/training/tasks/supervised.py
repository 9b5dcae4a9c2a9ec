"""Supervised learning on ``(inputs, labels)`` batches with one model and one Keras loss: the
shared maths of classification and segmentation, and what ``Trainer(build_model=..., loss=...)``
trains when it is given parts instead of a task."""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from yeehaw_tf.training.tasks.base import LossOutput, Task


def per_example(loss: keras.losses.Loss) -> keras.losses.Loss:
    """The same loss with ``reduction=None``: one value per example."""
    return type(loss).from_config({**loss.get_config(), "reduction": None})


class SupervisedTask(Task):
    """One model, ``loss(labels, model(inputs))`` summed over examples (the Trainer divides by
    the global batch size), and Keras metrics ``metric(labels, outputs)``.

    Subclasses implement :meth:`build_model`, :meth:`loss` and :meth:`metrics` (and the data
    parts of the contract); :meth:`from_parts` makes one from callables.
    """

    name = "supervised"

    def build_model(self) -> keras.Model:
        raise NotImplementedError

    def loss(self) -> keras.losses.Loss:
        raise NotImplementedError

    def build_models(self) -> dict[str, keras.Model]:
        self._per_example = per_example(self.loss())
        return {"model": self.build_model()}

    def compute_loss(self, models, batch, training: bool, ctx) -> LossOutput:
        inputs, labels = batch
        outputs = models["model"](inputs, training=training)
        losses = self._per_example(labels, outputs)
        return LossOutput(total=tf.reduce_sum(tf.cast(losses, tf.float32)), outputs=outputs)

    @classmethod
    def from_parts(
        cls,
        build_model: Callable[[], keras.Model],
        loss: keras.losses.Loss,
        build_metrics: Callable[[], list] | None = None,
    ) -> SupervisedTask:
        """A task from a model builder, a Keras loss and a metrics builder."""
        if not isinstance(loss, keras.losses.Loss):
            raise ValueError(f"Trainer: loss must be a keras.losses.Loss, got {type(loss)}")
        task = cls.__new__(cls)
        task.options = None
        task.build_model = build_model
        task.loss = lambda: loss
        task.metrics = build_metrics or (lambda: [])
        return task
