"""The training loop: one Trainer for every task, with a custom loop and Keras ``fit`` as drivers.

The Trainer owns what every paradigm shares: the strategy, the ``tf.function`` loop that runs
``steps_per_loop`` steps per call, the step itself with its NaN guard
(:mod:`yeehaw_tf.training.step`), checkpoints (:mod:`~yeehaw_tf.training.checkpointing`),
preemption (:mod:`~yeehaw_tf.training.preemption`), TensorBoard summaries, evaluation, and the
``fit`` bridge (:mod:`~yeehaw_tf.training.fit`). The task (:mod:`yeehaw_tf.training.tasks.base`)
supplies the models, optimizers, losses and metrics.

Loss reduction: each replica sums its examples' losses and the Trainer divides by the global
normalizer (the global batch size, or the task's count summed across replicas); the optimizer
sums gradients across replicas. The update is therefore the gradient of the mean loss over the
global batch, the same as one device seeing the whole batch, and the same as ``fit``'s.
Regularisation losses (``model.losses``) are divided by the number of replicas so they are
counted once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.training import fit as fit_bridge
from yeehaw_tf.training.checkpointing import CheckpointError, Checkpoints, describe_error
from yeehaw_tf.training.evaluation import Evaluator
from yeehaw_tf.training.preemption import PREEMPTED_EXIT_CODE, Preemption
from yeehaw_tf.training.step import NonFiniteError, StepRunner
from yeehaw_tf.training.strategy import is_chief
from yeehaw_tf.training.tasks.base import Task
from yeehaw_tf.training.tasks.supervised import SupervisedTask

ON_NAN = ("raise", "skip_step")

__all__ = [
    "ON_NAN",
    "PREEMPTED_EXIT_CODE",
    "CheckpointError",
    "NonFiniteError",
    "Trainer",
    "describe_error",
]


class Trainer:
    """Trains, evaluates and checkpoints a task under a ``tf.distribute`` strategy.

    Args:
        task: a :class:`~yeehaw_tf.training.tasks.base.Task`. Instead of one, the parts of a
            supervised task may be given: ``build_model`` (returns the uncompiled model),
            ``loss`` (a Keras loss; the per-example version is derived from its config) and
            ``build_metrics`` (returns fresh Keras metrics ``metric(y_true, y_pred)``).
        build_optimizer: returns the run's configured Keras optimizer; the task calls it once per
            optimizer it needs, inside the strategy scope. Under a ``mixed_float16`` dtype
            policy each is wrapped in ``keras.optimizers.LossScaleOptimizer``.
        workdir: checkpoints go to ``workdir/checkpoints``, TensorBoard logs to
            ``workdir/tensorboard/{train,eval}`` (on the chief only; see ``writable_dir``).
        strategy: defaults to the current strategy.
        seed: seeds the step's stateless randomness (``ctx.random``).
        checkpoint_every: save every this many steps (and at the end of training).
        max_to_keep: how many checkpoints to keep.
        steps_per_loop: steps run inside one ``tf.function`` call before control returns to
            Python for logging (fewer Python round trips; checkpoints still land on multiples of
            ``checkpoint_every``).
        steps_per_epoch: if given, the checkpointed ``epoch`` counter is ``step //
            steps_per_epoch`` and the progress bar shows it.
        jit_compile: XLA-compile each forward and backward pass. ``None``: on when a GPU is
            present and there is one replica (on CPU, XLA measured slower). Not available with
            several replicas: the compiled step cannot hold synchronized batch norm's
            cross-replica all-reduce.
        on_nan: what a step whose loss or any gradient is NaN or infinite does. ``raise``
            (default): stop without applying it, with a :class:`NonFiniteError` naming the step
            and the first offending tensor (``loss``, else the gradient of a variable, by path);
            the last checkpoint is untouched. ``skip_step``: count the step in ``skipped_steps``
            (checkpointed, reported) and go on. Either way the step changes nothing: weights,
            optimizer state and the forward pass's state updates (batch-norm moving statistics)
            are as before it, on every replica, for every optimizer group. Under float16 loss
            scaling, non-finite gradients are left to the loss scaler (it skips the step and
            lowers the scale).
    """

    def __init__(
        self,
        task: Task | None = None,
        *,
        build_optimizer: Callable[[], keras.optimizers.Optimizer],
        workdir: str,
        build_model: Callable[[], keras.Model] | None = None,
        loss: keras.losses.Loss | None = None,
        build_metrics: Callable[[], list] | None = None,
        strategy: tf.distribute.Strategy | None = None,
        seed: int = 0,
        checkpoint_every: int = 100,
        max_to_keep: int = 3,
        steps_per_loop: int = 50,
        steps_per_epoch: int | None = None,
        jit_compile: bool | None = None,
        on_nan: str = "raise",
    ):
        for name, value in (
            ("checkpoint_every", checkpoint_every),
            ("max_to_keep", max_to_keep),
            ("steps_per_loop", steps_per_loop),
            ("steps_per_epoch", 1 if steps_per_epoch is None else steps_per_epoch),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Trainer: {name} must be a positive integer, got {value!r}")
        if on_nan not in ON_NAN:
            raise ValueError(f"Trainer: on_nan must be one of {', '.join(ON_NAN)}, got {on_nan!r}")
        if task is None:
            if build_model is None or loss is None:
                raise ValueError("Trainer: give a task, or build_model and loss")
            task = SupervisedTask.from_parts(build_model, loss, build_metrics)
        elif build_model is not None or loss is not None or build_metrics is not None:
            raise ValueError("Trainer: give a task or build_model/loss/build_metrics, not both")
        self.task = task
        self.on_nan = on_nan
        self.strategy = strategy or tf.distribute.get_strategy()
        self.workdir = workdir
        self.seed = int(seed)
        self.checkpoint_every = checkpoint_every
        self.steps_per_loop = steps_per_loop
        self.steps_per_epoch = steps_per_epoch
        replicas = self.strategy.num_replicas_in_sync
        if jit_compile and replicas > 1:
            raise ValueError(
                f"Trainer: jit_compile cannot be used with {replicas} replicas (the compiled "
                "step cannot contain the cross-replica all-reduce of synchronized batch norm); "
                "train on one device or turn jit_compile off"
            )
        if jit_compile is None:
            jit_compile = bool(tf.config.list_physical_devices("GPU")) and replicas == 1
        self.jit_compile = bool(jit_compile)

        with self.strategy.scope():
            self._build(task, build_optimizer)
        objects = {
            "models": self.models,
            "optimizers": self.optimizers,
            "step": self.step,
            "epoch": self.epoch,
            "skipped_steps": self.skipped_steps,
        }
        if self.task_state:
            objects["task_state"] = self.task_state
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.checkpoints = Checkpoints(self.checkpoint, workdir, self.strategy, max_to_keep)
        self._preemption = Preemption(self.strategy, self.checkpoints, lambda: self._step_now())
        if is_chief(self.strategy):
            self._train_writer = tf.summary.create_file_writer(f"{workdir}/tensorboard/train")
            self._eval_writer = tf.summary.create_file_writer(f"{workdir}/tensorboard/eval")
        else:
            self._train_writer = self._eval_writer = tf.summary.create_noop_writer()
        self._resumed = False
        self._global_batch_size: int | None = None
        self._iterator_state: tuple = (None, None, -1)
        self._train_loop = tf.function(self._train_loop_fn)

    def _build(self, task: Task, build_optimizer) -> None:
        """Inside the strategy scope: models, optimizers (built), metrics and counters."""
        self.models = dict(task.build_models())
        if task.main_model not in self.models:
            raise ValueError(
                f"task {task.name!r} built models {sorted(self.models)} but its main_model is "
                f"{task.main_model!r}"
            )
        self.model = self.models[task.main_model]
        optimizers = dict(task.build_optimizers(build_optimizer, self.models))
        for name, optimizer in optimizers.items():
            if keras.mixed_precision.dtype_policy().name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer
            ):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(task.optimizer_variables(name, self.models))
            optimizers[name] = optimizer
        self.optimizers = optimizers
        self.optimizer = optimizers.get("model", next(iter(optimizers.values())))
        self.task_state = dict(task.state())
        single = len(optimizers) == 1
        self.loss_metrics = {
            name: keras.metrics.Mean(name="loss" if single else f"{name}_loss")
            for name in optimizers
        }
        self.total_loss = None if single else keras.metrics.Mean(name="loss")
        names = tuple(getattr(task, "loss_names", lambda: ())())
        self.component_metrics = {name: keras.metrics.Mean(name=name) for name in names}
        self.train_metrics = task.metrics()
        self.evaluator = Evaluator(task, self.models, self.strategy, self.seed, names)
        self.step = tf.Variable(
            0,
            dtype=tf.int64,
            trainable=False,
            name="global_step",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        # the guard's code for the first non-finite tensor of a refused step (StepRunner names it)
        self.first_bad = tf.Variable(
            -1,
            dtype=tf.int32,
            trainable=False,
            name="first_non_finite",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        self.skipped_steps = tf.Variable(
            0,
            dtype=tf.int64,
            trainable=False,
            name="skipped_steps",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        self.runner = StepRunner(
            task=task,
            models=self.models,
            optimizers=self.optimizers,
            seed=self.seed,
            jit_compile=self.jit_compile,
            loss_metrics=self.loss_metrics,
            total_loss=self.total_loss,
            component_metrics=self.component_metrics,
            train_metrics=self.train_metrics,
            skipped_steps=self.skipped_steps,
            first_bad=self.first_bad,
        )

    # ----------------------------------------------------------------------------- accessors
    @property
    def manager(self) -> tf.train.CheckpointManager:
        return self.checkpoints.manager

    @property
    def checkpoint_dir(self) -> str:
        return self.checkpoints.directory

    @property
    def restored_path(self) -> str | None:
        return self.checkpoints.restored_path

    def all_train_metrics(self) -> list:
        total = [self.total_loss] if self.total_loss is not None else []
        return [
            *total,
            *self.loss_metrics.values(),
            *self.component_metrics.values(),
            *self.train_metrics,
        ]

    def _step_now(self) -> int:
        return int(self.step.numpy())

    # ----------------------------------------------------------------------------- the loops
    def _train_loop_fn(self, iterator, num_steps):
        """``num_steps`` steps; returns what Python reads after them (the step, the guard's
        code, the skip count and every training metric's result) in one transfer, so a call
        costs one round trip however many metrics there are."""
        metrics = self.all_train_metrics()
        for metric in metrics:
            metric.reset_state()
        for _ in tf.range(num_steps):
            ok = self.strategy.run(self.runner.run, args=(next(iterator), self.step.read_value()))
            ok = self.strategy.experimental_local_results(ok)[0]  # the same on every replica
            if self.on_nan == "raise" and not ok:
                break  # the step is not counted; train() raises
            self.step.assign_add(1)
        if self.steps_per_epoch:
            self.epoch.assign(self.step // self.steps_per_epoch)
        counters = (
            self.step.read_value(),
            self.first_bad.read_value(),
            self.skipped_steps.read_value(),
        )
        return counters, [metric.result() for metric in metrics]

    # ----------------------------------------------------------------------------- checkpoints
    def restore(self) -> int:
        """Restores the newest readable checkpoint, if any (see
        :meth:`Checkpoints.restore`); returns the step it reached."""
        self.checkpoints.restore()
        return self._step_now()

    def save(self) -> str:
        return self.checkpoints.save(self._step_now())

    def _check_training_input(self, dataset, total_steps: int, verbose: int) -> int:
        """Validates the training input up front; returns the step to start from."""
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        batch_size = tf.nest.flatten(dataset.element_spec)[0].shape[0]
        replicas = self.strategy.num_replicas_in_sync
        if batch_size is not None and batch_size % replicas:
            raise ValueError(
                f"the global batch size ({batch_size}) must be divisible by the number of "
                f"replicas ({replicas}) so that every replica gets an equal share"
            )
        self._global_batch_size = batch_size  # None: not static (then each batch's own size)
        start = self._resume_once(verbose)
        cardinality = int(dataset.cardinality())
        if cardinality == 0:
            raise ValueError(
                "the training dataset is empty (it holds no full batch: fewer examples than "
                f"the batch size {batch_size}?)"
            )
        if 0 <= cardinality < total_steps - start:
            raise ValueError(
                f"the training dataset has {cardinality} batches but {total_steps - start} "
                "steps remain; training datasets must repeat (dataset.repeat())"
            )
        return start

    def _resume_once(self, verbose: int) -> int:
        """Restores from the checkpoints on the first call; later calls continue in memory."""
        if not self._resumed:
            self._resumed = True
            start = self.restore()
            if start and verbose:
                print(f"resumed from {self.restored_path} at step {start}", flush=True)
        return self._step_now()

    def _iterator_at(self, dataset: tf.data.Dataset, step: int):
        """An iterator over ``dataset`` positioned after ``step`` batches: the previous call's
        iterator when it is the same dataset and got that far, else a new one that skips them."""
        previous, iterator, position = self._iterator_state
        if previous is dataset and position == step:
            return iterator
        return iter(self._distribute(dataset.skip(step)))

    def _distribute(self, dataset: tf.data.Dataset):
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    # ----------------------------------------------------------------------------- drivers
    def train(self, dataset: tf.data.Dataset, total_steps: int, verbose: int = 1) -> dict:
        """Runs the custom loop until ``self.step == total_steps``, resuming from checkpoints.

        Args:
            dataset: an infinite dataset of global batches whose order depends only on its seed
                (as the tasks' ``train_dataset`` builds). On resume the first ``step`` batches
                are skipped, so a resumed run sees exactly the batches an uninterrupted run
                would have.
            total_steps: the step to stop at.
            verbose: 1 shows a progress bar, 0 is silent.

        Returns:
            The training losses and metrics averaged over the last logging interval.
        """
        start = self._check_training_input(dataset, total_steps, verbose)
        if start >= total_steps:
            return {}
        with self._preemption.listen() as preemption:
            return self._train(dataset, total_steps, start, verbose, preemption)

    def _train(self, dataset, total_steps: int, start: int, verbose: int, preemption) -> dict:
        iterator = self._iterator_at(dataset, start)
        self.first_bad.assign(-1)
        metrics = self.all_train_metrics()
        progbar = keras.utils.Progbar(total_steps, verbose=verbose, unit_name="step")
        results: dict = {}
        step = start
        while step < total_steps:
            next_checkpoint = (step // self.checkpoint_every + 1) * self.checkpoint_every
            num_steps = min(self.steps_per_loop, total_steps - step, next_checkpoint - step)
            began = time.perf_counter()
            try:
                counters, values = self._train_loop(iterator, tf.constant(num_steps, tf.int32))
            except tf.errors.OutOfRangeError:
                raise ValueError(
                    f"the training dataset ran out after step {self._step_now()}: it is "
                    "empty, or does not repeat (training datasets must be infinite)"
                ) from None
            step, first_bad, skipped = (int(c) for c in counters)
            if self.on_nan == "raise" and first_bad >= 0:
                raise self.non_finite_error()
            results = self._results(metrics, values)
            if self.on_nan == "skip_step":
                results["skipped_steps"] = skipped
            seconds = time.perf_counter() - began
            results["steps_per_second"] = num_steps / max(seconds, 1e-9)
            if self._global_batch_size:
                results["examples_per_second"] = (
                    results["steps_per_second"] * self._global_batch_size
                )
            if self.steps_per_epoch:
                results["epoch"] = step // self.steps_per_epoch
            self._write_summaries(self._train_writer, results, step)
            self.report_progress(step, step - num_steps)
            progbar.stateful_metrics.update(results)  # show each interval's values, not means
            progbar.update(step, list(results.items()), finalize=step == total_steps)
            if step % self.checkpoint_every == 0 or step == total_steps:
                self._train_writer.flush()  # summaries reach the disk with each checkpoint
                self.save()
            if preemption is not None:  # a SIGTERM anywhere in the cluster: all save, then exit
                preemption.save_checkpoint_if_preempted(checkpoint_number=step)
        self._iterator_state = (dataset, iterator, step)
        return results

    def report_progress(self, step: int, previous: int) -> None:
        """The task's :meth:`~yeehaw_tf.training.tasks.Task.log_progress` (on the chief) after
        the steps from ``previous`` to ``step`` (the custom loop and the fit bridge alike)."""
        if is_chief(self.strategy):
            self.task.log_progress(self.models, step, previous, self.workdir, self._train_writer)

    def non_finite_error(self) -> NonFiniteError:
        step = self._step_now() + 1  # the refused step was not counted
        what = self.runner.checked_name(int(self.first_bad.numpy()))
        where = self.checkpoints.latest or "no checkpoint yet"
        return NonFiniteError(
            f"training stopped at step {step}: {what} is NaN or infinite (the update was not "
            f"applied; the last good checkpoint is {where}). Check the input data and the "
            "learning rate, or pass on_nan='skip_step' (--on_nan=skip_step) to skip such steps"
        )

    def evaluate(self, dataset: tf.data.Dataset) -> dict:
        """Losses and metrics over a finite dataset, aggregated across replicas; with a task
        that gathers outputs, also the metrics it computes from them in Python
        (:class:`~yeehaw_tf.training.evaluation.Evaluator`)."""
        metrics, values, extra = self.evaluator.evaluate(self._distribute(dataset))
        results = {**self._results(metrics, values), **extra}
        self._write_summaries(self._eval_writer, results, self._step_now())
        self._eval_writer.flush()
        return results

    def fit(self, dataset: tf.data.Dataset, total_steps: int, verbose: int = 1) -> dict:
        """The same training driven by Keras ``fit``: the same step (the task's, with the NaN
        guard), models, optimizers and checkpoints, through :class:`~.fit.TaskModel`."""
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise ValueError(
                "Keras fit does not work under MultiWorkerMirroredStrategy (keras-team/keras"
                "#20585); use the custom loop (--loop=custom) for multi-worker training"
            )
        start = self._check_training_input(dataset, total_steps, verbose)
        if start >= total_steps:
            return {}
        self.first_bad.assign(-1)
        with self.strategy.scope():
            model = fit_bridge.TaskModel(self)
            model.compile(optimizer=self.optimizer, jit_compile=False)
        history = model.fit(
            self._distribute(dataset.skip(start)),  # as the custom loop splits the batches
            epochs=1,
            steps_per_epoch=total_steps - start,
            callbacks=[
                *([fit_bridge.NonFiniteStop(self)] if self.on_nan == "raise" else []),
                fit_bridge.StepCheckpoint(self),
            ],
            shuffle=False,  # the dataset is already shuffled, by its seed
            verbose=verbose,
        )
        if self._step_now() % self.checkpoint_every:  # else the callback just saved it
            fit_bridge.check_finite_weights(self, self._step_now())
            self.save()
        results = {k: float(v[-1]) for k, v in history.history.items()}
        if self.on_nan == "skip_step":
            results["skipped_steps"] = int(self.skipped_steps.numpy())
        return results

    # ----------------------------------------------------------------------------- helpers
    @staticmethod
    def _results(metrics, values) -> dict:
        """``{name: float}`` from the metrics' ``result()`` values (a dict result adds its
        entries)."""
        results = {}
        for metric, value in zip(metrics, values, strict=True):
            if isinstance(value, dict):
                results.update({k: float(v) for k, v in value.items()})
            else:
                results[metric.name] = float(value)
        return results

    @staticmethod
    def _write_summaries(writer, results: dict, step: int) -> None:
        with writer.as_default(step=step):
            for name, value in results.items():
                if isinstance(value, int | float | np.number):  # tasks may return more
                    tf.summary.scalar(name, value)
