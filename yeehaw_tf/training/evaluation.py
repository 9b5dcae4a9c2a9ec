"""Evaluation: a task's losses and Keras metrics over a finite dataset, in the graph, and the
outputs a task gathers from every replica back to Python for metrics that are not
graph-friendly (COCO mAP, FID)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.training.step import EvalContext, regularization_loss
from yeehaw_tf.training.tasks.base import Task


class Evaluator:
    """Evaluates ``task``'s ``models`` under ``strategy``. Made inside the strategy scope (it
    creates its metrics there).

    The loss is a weighted mean over batches and replicas: each batch adds ``total /
    normalizer`` (default: its example count) with that count as its weight, plus the models'
    regularisation losses, as Keras's ``evaluate`` reports them. ``loss_names`` are the task's
    loss components, reported the same way.
    """

    def __init__(self, task: Task, models: Mapping, strategy, seed: int, loss_names: Sequence[str]):
        self.task = task
        self.models = models
        self.strategy = strategy
        self.seed = seed
        self.loss = keras.metrics.Mean(name="loss")
        self.components = {name: keras.metrics.Mean(name=name) for name in loss_names}
        self.metrics = task.metrics()
        self.gathers = type(task).gather_outputs is not Task.gather_outputs
        self._loop = tf.function(self._loop_fn)
        self._gather = tf.function(self._gather_fn, reduce_retracing=True)

    def all_metrics(self) -> list:
        return [self.loss, *self.components.values(), *self.metrics]

    def _replica_step(self, batch, index):
        ctx = EvalContext(self.models, self.seed, index, batch)
        output = self.task.compute_loss(self.models, batch, False, ctx)
        if output.normalizer is None:
            count = tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.float32)
        else:
            count = tf.cast(output.normalizer, tf.float32)
        weight = tf.maximum(count, 1.0)
        loss = tf.cast(output.total, tf.float32) / weight
        penalty = regularization_loss(list(self.models.values()))
        if penalty is not None:
            loss += tf.cast(penalty, tf.float32)
        self.loss.update_state(loss, sample_weight=count)
        for name, value in output.components.items():
            self.components[name].update_state(
                tf.cast(value, tf.float32) / weight, sample_weight=count
            )
        self.task.update_metrics(self.metrics, batch, output.outputs)
        return self.task.gather_outputs(batch, output.outputs)

    def _loop_fn(self, dataset):
        index = tf.constant(0, tf.int64)
        for batch in dataset:
            self.strategy.run(self._replica_step, args=(batch, index))
            index += 1

    def _gather_fn(self, batch, index):
        outputs = self.strategy.run(self._replica_step, args=(batch, index))
        return {name: self.strategy.gather(value, axis=0) for name, value in outputs.items()}

    def evaluate(self, distributed) -> tuple[list, list, dict]:
        """Runs over a distributed dataset; returns ``(metrics, their results, metrics the task
        computed from its gathered outputs)``."""
        metrics = self.all_metrics()
        for metric in metrics:
            metric.reset_state()
        gathered: dict[str, list] = {}
        if self.gathers:
            for index, batch in enumerate(distributed):
                outputs = self._gather(batch, tf.constant(index, tf.int64))
                for name, value in outputs.items():
                    gathered.setdefault(name, []).append(np.asarray(value))
        else:
            self._loop(distributed)
        if float(self.loss.count.numpy()) == 0:
            raise ValueError("the evaluation dataset is empty: there is nothing to measure")
        extra = {}
        if self.gathers:
            arrays = {name: np.concatenate(parts) for name, parts in gathered.items()}
            extra = dict(self.task.evaluate_gathered(arrays))
        return metrics, [metric.result() for metric in metrics], extra
