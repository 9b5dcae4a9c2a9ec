"""The Keras ``fit`` bridge: ``fit`` drives the Trainer's own step.

:class:`TaskModel` is a ``keras.Model`` whose Keras-3 ``train_step`` override runs
:meth:`yeehaw_tf.training.step.StepRunner.run` -- the task's ``train_step`` (the default one-tape
step or the task's own, several optimizers included), the NaN guard and the undo -- so the
custom loop and ``fit`` share one definition of the maths. Keras runs it under the same
strategy, with its own loop, callbacks and ``steps_per_execution``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.training.step import NonFiniteError


class TaskModel(keras.Model):
    """What ``fit`` trains: the task's models behind the Trainer's step.

    ``call`` is the task's main model (so ``predict``/``evaluate`` behave as on it);
    ``metrics`` are the Trainer's training metrics, which Keras resets each epoch and reads
    across replicas at the end.
    """

    def __init__(self, trainer, **kwargs):
        super().__init__(name=f"{trainer.model.name}_fit", **kwargs)
        self._runner = trainer.runner
        self._step = trainer.step
        self._main = trainer.model
        self._train_metrics = trainer.all_train_metrics()
        # on_nan="skip_step" counts a refused step (as the custom loop does); "raise" does not,
        # and NonFiniteStop then stops the run
        self._count_refused = trainer.on_nan == "skip_step"
        # Every variable lives in the Trainer's (built) models: nothing to build, so Keras
        # need not call the model on a batch's inputs to build it -- which a model with
        # several named inputs (Fast R-CNN's images and proposals) would refuse.
        self.built = True

    def call(self, inputs, training=False):
        return self._main(inputs, training=training)

    @property
    def metrics(self):
        return list(self._train_metrics)

    def train_step(self, data):
        ok = self._runner.run(data, self._step.read_value())
        self._step.assign_add(1 if self._count_refused else tf.cast(ok, tf.int64))
        return {metric.name: metric.result() for metric in self._train_metrics}


class NonFiniteStop(keras.callbacks.Callback):
    """Stops ``fit`` with :class:`NonFiniteError` after a refused step (its update was undone;
    the checkpoints are untouched), naming the step and the tensor."""

    def __init__(self, trainer):
        super().__init__()
        self._trainer = trainer

    def on_train_batch_end(self, batch, logs=None):
        if int(self._trainer.first_bad.numpy()) >= 0:
            raise self._trainer.non_finite_error()


class StepCheckpoint(keras.callbacks.Callback):
    """Keeps the epoch counter and saves on the Trainer's schedule; refuses to save weights
    that became non-finite (a non-finite *gradient* under float16 loss scaling is the loss
    scaler's to skip, so only the weights show it)."""

    def __init__(self, trainer):
        super().__init__()
        self._trainer = trainer
        self._saved = -1

    def on_train_batch_end(self, batch, logs=None):
        trainer = self._trainer
        step = int(trainer.step.numpy())
        if trainer.steps_per_epoch:
            trainer.epoch.assign(step // trainer.steps_per_epoch)
        trainer.report_progress(step, step - 1)
        if step % trainer.checkpoint_every == 0 and step != self._saved:
            check_finite_weights(trainer, step)
            trainer.save()
            self._saved = step


def check_finite_weights(trainer, step: int) -> None:
    weights = [w for model in trainer.models.values() for w in model.weights]
    bad = [w.path for w in weights if not np.all(np.isfinite(w.numpy()))]
    if bad:
        where = trainer.checkpoints.latest or "no checkpoint yet"
        raise NonFiniteError(
            f"training stopped at step {step}: weights {bad[0]} (and {len(bad) - 1} "
            f"more) became NaN or infinite at or before this step; not saved (the last "
            f"good checkpoint is {where})"
        )
