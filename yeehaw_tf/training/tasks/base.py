"""The Task contract: the one thing a training paradigm implements.

A task owns what differs between paradigms -- its options, data, models, optimizers, losses,
metrics, evaluation and serving spec -- and the :class:`~yeehaw_tf.training.Trainer` owns what
does not: the strategy, the ``tf.function`` loop, the NaN guard and the undo of a refused step,
checkpoints, preemption, summaries and the ``fit`` bridge. Nothing outside the ``TASKS`` table
(``yeehaw_tf.training.tasks``) looks a task up by name.

The parts, in the order a run uses them:

* ``Options`` (class attribute): a frozen dataclass of the task's options, each with its
  default defined once (and ``metadata={"help": ...}``, from which ``train.py``'s flags are
  generated), validated in ``__post_init__`` without building any model. It holds at least
  ``model`` and ``dataset``; ``epochs`` is the task's default run length.
* :meth:`Task.load_data` -> :class:`TaskData`: the task's splits, loaded by dataset name.
* :meth:`Task.from_data`: the task itself, with what it measured on the training split
  (image statistics) and learned from the dataset (classes); :meth:`to_dict` /
  :meth:`from_dict` write and read it in the run record, so export rebuilds the same models.
* :meth:`train_dataset` / :meth:`eval_dataset`: ``tf.data`` pipelines of global batches.
* :meth:`build_models` (a dict of named Keras models) and :meth:`build_optimizers` (a dict of
  named optimizers), called inside the strategy scope; :meth:`state` declares any further
  variables to checkpoint (EMA weights, counters).
* :meth:`compute_loss` -> :class:`LossOutput`: the maths of one batch, on one replica.
* :meth:`train_step`: the default runs one tape through :meth:`compute_loss` and applies one
  optimizer; a task may override it to run several optimizers in one step (a GAN's critic
  ``n`` times, then its generator) through the :class:`~yeehaw_tf.training.step.StepContext`
  the Trainer passes in: ``ctx.minimize(optimizer_name, loss_fn, model)``. The NaN guard and
  the undo of a non-finite step cover every optimizer group either way. Randomness inside the
  step comes from ``ctx.random`` (stateless, seeded from ``(seed, step)``).
* :meth:`finish_training`: after the last step, fits that are not gradient steps (R-CNN's
  SVMs); the Trainer saves a checkpoint when it changed weights.
* :meth:`metrics` / :meth:`update_metrics`: Keras metrics updated in the graph;
  :meth:`gather_outputs` / :meth:`evaluate_gathered`: outputs brought back to Python (gathered
  from every replica) for metrics that are not graph-friendly (COCO mAP, FID).
* :meth:`serving_spec`: what export writes and checks (:mod:`yeehaw_tf.export.spec`);
  :meth:`summary_rows` and :meth:`write_artifacts`: what the run summary shows and writes.

Loss units. :meth:`compute_loss` returns the **sum** of its per-example (or per-anchor) losses
over this replica's share of the batch and, optionally, a ``normalizer`` (this replica's count
of examples, positive anchors, ...). The Trainer sums the normalizer across *all* replicas and
divides by it, so the update is the gradient of the loss over the global batch whatever the
number of replicas (RetinaNet's "normalised by the number of positive anchors" means across the
whole batch, not per replica). Without a normalizer the global batch size is used: the mean
over the global batch. ``components`` are in the same units and are divided the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import keras
import tensorflow as tf

from yeehaw_tf.training.tasks.record import from_record


@dataclasses.dataclass(frozen=True)
class LossOutput:
    """One replica's loss for one batch (see the module docstring for its units).

    Attributes:
        total: the scalar to minimise, summed over this replica's examples.
        components: named parts of ``total`` (logged), in the same units.
        outputs: what the models produced (passed to :meth:`Task.update_metrics`).
        normalizer: this replica's count to divide by after summing over replicas; ``None``:
            the number of examples (so the result is the mean over the global batch).
    """

    total: tf.Tensor
    components: Mapping[str, tf.Tensor] = dataclasses.field(default_factory=dict)
    outputs: Any = None
    normalizer: tf.Tensor | None = None


@dataclasses.dataclass(frozen=True)
class TaskData:
    """A task's splits: ``train`` and ``test`` datasets of single examples (their structure is
    the task's), their sizes, and what the task reads from the dataset's metadata."""

    name: str
    train: tf.data.Dataset
    test: tf.data.Dataset
    num_train: int
    num_test: int
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TaskOptions:
    """Base of every task's options. ``model`` and ``dataset`` name what to train on; ``epochs``
    is how long the task trains by default. Subclasses validate in ``__post_init__``."""

    model: str = ""
    dataset: str = ""
    epochs: int = 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, record: Mapping) -> TaskOptions:
        tuples = {
            f.name: _element_type(f.type)
            for f in dataclasses.fields(cls)
            if _element_type(f.type) is not None
        }
        return from_record(cls, dict(record), tuples)


def _element_type(annotation) -> type | None:
    """``int`` for ``tuple[int, ...]`` (or ``"tuple[int, ...] | None"``), else ``None``."""
    text = str(annotation)
    for kind in (int, float, str):
        if text.startswith(f"tuple[{kind.__name__}"):
            return kind
    return None


class Task:
    """Base class of every training paradigm. See the module docstring for the contract.

    Subclasses set ``name`` and ``Options`` and implement at least :meth:`load_data`,
    :meth:`from_data`, :meth:`train_dataset`, :meth:`eval_dataset`, :meth:`build_models` and
    :meth:`compute_loss`. ``self.options`` is the task's options.
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[TaskOptions]] = TaskOptions
    # The model that evaluation, export and ``fit``'s ``call`` use.
    main_model: ClassVar[str] = "model"

    def __init__(self, options: TaskOptions):
        if not isinstance(options, self.Options):
            raise ValueError(
                f"task {self.name!r} takes {self.Options.__name__}, got {type(options).__name__}"
            )
        self.options = options

    # ----------------------------------------------------------------------------- data
    @classmethod
    def load_data(cls, options: TaskOptions, data_dir: str | None) -> TaskData:
        raise NotImplementedError(f"{cls.__name__} does not load data")

    @classmethod
    def from_data(cls, options: TaskOptions, data: TaskData) -> Task:
        """The task for ``data`` (measuring on its training split what the models need)."""
        return cls(options)

    def train_dataset(self, data: TaskData, batch_size: int, seed: int) -> tf.data.Dataset:
        """Infinite global batches whose order depends only on ``seed`` (resume skips the
        batches already consumed)."""
        raise NotImplementedError(f"{type(self).__name__} has no training pipeline")

    def eval_dataset(self, data: TaskData, batch_size: int) -> tf.data.Dataset:
        raise NotImplementedError(f"{type(self).__name__} has no evaluation pipeline")

    # ----------------------------------------------------------------------------- models
    def build_models(self) -> dict[str, keras.Model]:
        raise NotImplementedError(f"{type(self).__name__} builds no models")

    @classmethod
    def default_warmup_steps(cls, total_steps: int) -> int:
        """The linear learning-rate warm-up a run of ``total_steps`` gets when
        ``--warmup_steps`` is not given (by default none)."""
        return 0

    def build_optimizers(
        self, make_optimizer: Callable[[], keras.optimizers.Optimizer], models: Mapping
    ) -> dict[str, keras.optimizers.Optimizer]:
        """One optimizer per group of variables it updates; by default one, named ``model``,
        for every trainable variable. ``make_optimizer`` builds the run's configured one."""
        return {"model": make_optimizer()}

    def optimizer_variables(self, name: str, models: Mapping) -> list:
        """The variables optimizer ``name`` updates (by default: every model's trainable
        variables); used to build its slots up front."""
        return [v for model in models.values() for v in model.trainable_variables]

    def state(self) -> dict[str, tf.Variable]:
        """Further variables to checkpoint (created inside the strategy scope)."""
        return {}

    def inference_model(self, models: Mapping[str, keras.Model]) -> keras.Model:
        """The model evaluation metrics and export use."""
        return models[self.main_model]

    # ----------------------------------------------------------------------------- the maths
    def compute_loss(self, models: Mapping, batch, training: bool, ctx) -> LossOutput:
        raise NotImplementedError(f"{type(self).__name__} defines no loss")

    def train_step(self, ctx, batch) -> None:
        """One training step on one replica: by default, one tape through
        :meth:`compute_loss` and one update by the ``model`` optimizer."""
        result = ctx.minimize(
            "model",
            lambda: self.compute_loss(ctx.models, batch, True, ctx),
            list(ctx.models.values()),
            gradient_scales=self.gradient_scales(ctx),
        )
        ctx.update_metrics(batch, result.outputs)

    def gradient_scales(self, ctx) -> list | None:
        """``[(variables, scalar tensor), ...]``: factors the default step multiplies those
        variables' gradients by (``None``: none). E.g. 0 until a step, then 1, for layers held
        still while a new head trains (two-phase transfer learning)."""
        return None

    @classmethod
    def has_own_train_step(cls) -> bool:
        return cls.train_step is not Task.train_step

    def finish_training(self, models: Mapping[str, keras.Model], data: TaskData) -> bool:
        """Called after the last training step (also when a finished run is run again), before
        evaluation: fits that are not gradient steps (R-CNN's SVMs and box regressors).
        Returns whether it changed weights; the Trainer then saves a checkpoint at the same
        step, so evaluation, export and ``load_run`` see them. By default nothing."""
        return False

    # ----------------------------------------------------------------------------- metrics
    def metrics(self) -> list[keras.metrics.Metric]:
        return []

    def update_metrics(self, metrics: list, batch, outputs) -> None:
        """Updates the graph metrics; by default ``metric(labels, outputs)`` for pairs."""
        labels = batch[1]
        for metric in metrics:
            metric.update_state(labels, outputs)

    def gather_outputs(self, batch, outputs) -> dict[str, tf.Tensor] | None:
        """Tensors to bring back to Python from each evaluation batch (concatenated over
        replicas along axis 0), or ``None`` to keep evaluation in the graph."""
        return None

    def evaluate_gathered(self, gathered: dict[str, Any]) -> dict[str, float]:
        """Metrics from the gathered evaluation outputs (NumPy, concatenated over batches)."""
        return {}

    # ----------------------------------------------------------------------------- results
    def serving_spec(self, model: keras.Model, data: TaskData):
        """The :class:`yeehaw_tf.export.spec.ServingSpec` that export writes and checks."""
        raise NotImplementedError(f"{type(self).__name__} has no serving spec")

    def summary_rows(self, evaluation: Mapping[str, float]) -> list[tuple[str, str]]:
        """``(label, value)`` rows for the run's summary table."""
        return [("test loss", f"{evaluation['loss']:.4f}")] if "loss" in evaluation else []

    def log_progress(self, models: Mapping, step: int, previous: int, workdir: str, writer) -> None:
        """Called by the custom loop on the chief after each loop of steps (``previous`` ->
        ``step``), with the TensorBoard train writer: e.g. a GAN's sample grid every ``N``
        steps. By default nothing."""

    def write_artifacts(self, model: keras.Model, data: TaskData, workdir: str) -> dict:
        """Pictures and files written after training; returns summary entries."""
        return {}

    # ----------------------------------------------------------------------------- record
    def to_dict(self) -> dict:
        return {"task": self.name, "options": self.options.to_dict(), **self._record()}

    def _record(self) -> dict:
        """What the task measured (beyond its options), as JSON-friendly values."""
        return {}

    @classmethod
    def from_dict(cls, record: Mapping) -> Task:
        return cls(cls.Options.from_dict(record["options"]))
