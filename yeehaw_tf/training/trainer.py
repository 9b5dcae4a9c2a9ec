"""The training loop: one Trainer for every task, with a custom loop and Keras ``fit`` as drivers.

The maths of a step is defined once: the model, the task's Keras loss and the optimizer. The
custom loop (:meth:`Trainer.train`) runs it as a ``tf.function`` under any ``tf.distribute``
strategy; :meth:`Trainer.fit` hands the same three objects to ``model.compile``/``fit``.

Loss reduction: each replica computes per-example losses and divides their sum by the **global**
batch size (``tf.nn.compute_average_loss``); the optimizer sums gradients across replicas. The
update is therefore the gradient of the mean loss over the global batch, the same as one device
seeing the whole batch, and the same as ``fit``'s ``sum_over_batch_size``. Regularisation losses
(``model.losses``) are divided by the number of replicas so they are counted once.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from yeehaw_tf.training.strategy import is_chief, writable_dir

MetricsFn = Callable[[], list[keras.metrics.Metric]]
ON_NAN = ("raise", "skip_step")
# Exit status after a SIGTERM (preemption) was answered with a checkpoint: TF's restart
# convention (the status its PreemptionCheckpointHandler uses on Borg); re-running resumes.
PREEMPTED_EXIT_CODE = 42


def _per_example(loss: keras.losses.Loss) -> keras.losses.Loss:
    """The same loss with ``reduction=None``: one value per example."""
    return type(loss).from_config({**loss.get_config(), "reduction": None})


class CheckpointError(RuntimeError):
    """The workdir's checkpoints exist but none can be restored into this model."""


class NonFiniteError(RuntimeError):
    """The loss or a gradient became NaN or infinite; the update was not applied and nothing
    was saved, so the newest checkpoint is the last good state."""


class Trainer:
    """Trains, evaluates and checkpoints a Keras model under a ``tf.distribute`` strategy.

    Args:
        build_model: returns the (uncompiled) Keras model; called inside the strategy scope.
        loss: a Keras loss with the reduction ``fit`` should use (the custom loop derives the
            per-example version from its config).
        build_metrics: returns fresh Keras metrics ``metric(y_true, y_pred)``.
        build_optimizer: returns a Keras optimizer; called inside the strategy scope. Under a
            ``mixed_float16`` dtype policy it is wrapped in ``keras.optimizers.LossScaleOptimizer``.
        workdir: checkpoints go to ``workdir/checkpoints``, TensorBoard logs to
            ``workdir/tensorboard/{train,eval}`` (on the chief only; see ``writable_dir``).
        strategy: defaults to the current strategy.
        checkpoint_every: save every this many steps (and at the end of training).
        max_to_keep: how many checkpoints to keep.
        steps_per_loop: steps run inside one ``tf.function`` call before control returns to
            Python for logging (fewer Python round trips; checkpoints still land on multiples of
            ``checkpoint_every``).
        steps_per_epoch: if given, the checkpointed ``epoch`` counter is ``step //
            steps_per_epoch`` and the progress bar shows it.
        jit_compile: XLA-compile the forward and backward pass. ``None``: on when a GPU is
            present and there is one replica (on CPU, XLA measured slower). Not available with
            several replicas: the compiled step cannot hold synchronized batch norm's
            cross-replica all-reduce.
        on_nan: what a step whose loss or any gradient is NaN or infinite does. ``raise``
            (default): stop without applying it, with a :class:`NonFiniteError` naming the step
            and the first offending tensor (``loss``, else the gradient of a variable, by path);
            the last checkpoint is untouched. ``skip_step``: count the step in ``skipped_steps``
            (checkpointed, reported) and go on. Either way the step changes nothing: weights,
            optimizer state and the forward pass's state updates (batch-norm moving statistics)
            are as before it, on every replica. Under float16 loss scaling, non-finite gradients
            are left to the loss scaler (it skips the step and lowers the scale).
    """

    def __init__(
        self,
        *,
        build_model: Callable[[], keras.Model],
        loss: keras.losses.Loss,
        build_metrics: MetricsFn,
        build_optimizer: Callable[[], keras.optimizers.Optimizer],
        workdir: str,
        strategy: tf.distribute.Strategy | None = None,
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
        self.on_nan = on_nan
        if not isinstance(loss, keras.losses.Loss):
            raise ValueError(f"Trainer: loss must be a keras.losses.Loss, got {type(loss)}")
        self.strategy = strategy or tf.distribute.get_strategy()
        self.workdir = workdir
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
        self._global_batch_size: int | None = None
        self.loss = loss
        self._per_example_loss = _per_example(loss)
        self._build_metrics = build_metrics

        with self.strategy.scope():
            self.model = build_model()
            optimizer = build_optimizer()
            if keras.mixed_precision.dtype_policy().name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer
            ):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            self.optimizer.build(self.model.trainable_variables)
            self.train_loss = keras.metrics.Mean(name="loss")
            self.eval_loss = keras.metrics.Mean(name="loss")
            self.train_metrics = build_metrics()
            self.eval_metrics = build_metrics()
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            # index into _checked_names() of the first non-finite tensor of a refused step
            self._first_bad = tf.Variable(
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

        self.checkpoint = tf.train.Checkpoint(
            model=self.model,
            optimizer=self.optimizer,
            step=self.step,
            epoch=self.epoch,
            skipped_steps=self.skipped_steps,
        )
        # Every worker restores from the chief's directory (shared storage in a multi-host run);
        # the others write their share of each collective save to a scratch directory.
        self._shared_checkpoint_dir = os.path.join(workdir, "checkpoints")
        self.checkpoint_dir = writable_dir(self._shared_checkpoint_dir, self.strategy)
        if not is_chief(self.strategy) and tf.io.gfile.isdir(self.checkpoint_dir):
            tf.io.gfile.rmtree(self.checkpoint_dir)  # scratch: a previous Trainer's leftovers
        self._max_to_keep = max_to_keep
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.checkpoint_dir, max_to_keep=max_to_keep
        )
        if is_chief(self.strategy):
            self._train_writer = tf.summary.create_file_writer(
                os.path.join(workdir, "tensorboard", "train")
            )
            self._eval_writer = tf.summary.create_file_writer(
                os.path.join(workdir, "tensorboard", "eval")
            )
        else:
            self._train_writer = self._eval_writer = tf.summary.create_noop_writer()
        # XLA compiles only the forward and backward pass: the optimizer's cross-replica
        # all-reduce stays outside.
        self._gradients = (
            tf.function(self._loss_and_gradients, jit_compile=True)
            if self.jit_compile
            else self._loss_and_gradients
        )
        self.restored_path: str | None = None
        self._preemption_handler = None
        self._resumed = False
        self._iterator_state: tuple = (None, None, -1)
        self._train_loop = tf.function(self._train_loop_fn)
        self._eval_loop = tf.function(self._eval_loop_fn)

    # ----------------------------------------------------------------------------- the maths
    def _loss_and_gradients(self, images, labels):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.model(images, training=True)
            per_example = self._per_example_loss(labels, outputs)
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=self._global_batch_size
            )
            if self.model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
            scaled = self.optimizer.scale_loss(loss)
        return loss, outputs, tape.gradient(scaled, variables)

    def _replica_train_step(self, batch):
        images, labels = batch
        # Non-trainable state the forward pass updates (batch-norm moving statistics), so that a
        # refused step can be undone completely.
        state = [tf.identity(v) for v in self.model.non_trainable_variables]
        loss, outputs, grads = self._gradients(images, labels)
        finite = tf.stack(self._finite_flags(loss, grads))
        # Every replica must take the same branch, so they agree on "all finite" first. The update
        # calls merge_call, which cannot sit inside a replica-context cond, so (as Keras's
        # LossScaleOptimizer does) the cond runs in the cross-replica context.
        context = tf.distribute.get_replica_context()
        bad = context.all_reduce("sum", 1 - tf.cast(tf.reduce_all(finite), tf.int32))
        ok = tf.equal(bad, 0)
        first_bad = tf.argmin(tf.cast(finite, tf.int32), output_type=tf.int32)
        context.merge_call(self._apply_or_undo, args=(grads, ok, first_bad, state))
        # `loss` is this replica's share of the global-batch loss (regularisation included); the
        # metric averages over replicas, so scale by their number to report the global loss.
        replicas = self.strategy.num_replicas_in_sync

        def update_metrics():
            self.train_loss.update_state(loss * replicas)
            for metric in self.train_metrics:
                metric.update_state(labels, outputs)

        tf.cond(ok, update_metrics, lambda: None)
        return ok

    def _finite_flags(self, loss, grads) -> list:
        """Whether the loss and each gradient are finite, in the order of
        :meth:`_checked_names`. Under float16 loss scaling, overflowing gradients are the loss
        scaler's to handle (it skips the step and lowers the scale), so only the loss is checked."""
        flags = [tf.reduce_all(tf.math.is_finite(loss))]
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            return flags
        return flags + [
            tf.constant(True) if g is None else tf.reduce_all(tf.math.is_finite(g)) for g in grads
        ]

    def _checked_names(self) -> list[str]:
        return ["loss"] + [v.path for v in self.model.trainable_variables]

    def _apply_or_undo(self, strategy, grads, ok, first_bad, state):
        """Cross-replica context: apply every replica's update; or undo the forward pass's state
        updates, count the step as skipped and (``on_nan="raise"``) remember what was bad."""
        ok = strategy.experimental_local_results(ok)[0]
        variables = self.model.trainable_variables

        def apply():
            strategy.extended.call_for_each_replica(
                lambda g: self.optimizer.apply_gradients(zip(g, variables, strict=True)),
                args=(grads,),
            )

        def undo():
            saved = strategy.experimental_local_results(state)[0]  # in sync before the step
            for variable, value in zip(self.model.non_trainable_variables, saved, strict=True):
                variable.assign(value)
            self.skipped_steps.assign_add(1)
            self._first_bad.assign(strategy.experimental_local_results(first_bad)[0])

        tf.cond(ok, apply, undo)

    def _replica_eval_step(self, batch):
        images, labels = batch
        outputs = self.model(images, training=False)
        per_example = self._per_example_loss(labels, outputs)
        if self.model.losses:  # reported like Keras's evaluate: regularisation included
            per_example += tf.add_n(self.model.losses)
        self.eval_loss.update_state(per_example)
        for metric in self.eval_metrics:
            metric.update_state(labels, outputs)

    def _train_loop_fn(self, iterator, num_steps):
        for _ in tf.range(num_steps):
            ok = self.strategy.run(self._replica_train_step, args=(next(iterator),))
            ok = self.strategy.experimental_local_results(ok)[0]  # the same on every replica
            if self.on_nan == "raise" and not ok:
                break  # the step is not counted; train() raises
            self.step.assign_add(1)

    def _eval_loop_fn(self, dataset):
        for batch in dataset:
            self.strategy.run(self._replica_eval_step, args=(batch,))

    # ----------------------------------------------------------------------------- checkpoints
    def restore(self) -> int:
        """Restores the newest readable checkpoint, if any; returns the step it reached.

        If the newest checkpoint cannot be read, says so and falls back to the one before it,
        rather than silently starting from scratch. The chief then moves the unreadable ones to
        ``checkpoints/unreadable/`` (kept, not deleted) and lists only readable checkpoints in
        the state file, so nothing later (the preemption handler, ``python -m export``) trips
        over them; it also removes the staging folders (``ckpt-N_temp``) of interrupted saves.
        """
        chief = is_chief(self.strategy)
        source = self.manager
        if not chief:
            source = tf.train.CheckpointManager(
                self.checkpoint, self._shared_checkpoint_dir, max_to_keep=self._max_to_keep
            )
        paths = list(source.checkpoints)
        if chief:
            _remove_staging_dirs(self.checkpoint_dir)
        for index in reversed(range(len(paths))):
            path = paths[index]
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except Exception as e:  # noqa: BLE001 - any failure to read means: try the previous one
                logging.warning(
                    "checkpoint %s is unreadable (%s); trying the previous one",
                    path,
                    describe_error(e),
                )
                continue
            self.restored_path = path
            if chief and index < len(paths) - 1:
                self._set_aside(paths[index + 1 :], paths[: index + 1])
            logging.info("restored %s at step %d", path, int(self.step.numpy()))
            return int(self.step.numpy())
        if paths:
            raise CheckpointError(
                f"no checkpoint in {self._shared_checkpoint_dir} could be restored into this "
                "model (the files are damaged, or were written by a differently configured "
                "model); move the directory away to start from scratch"
            )
        return 0

    def _set_aside(self, unreadable: list[str], readable: list[str]) -> None:
        aside = os.path.join(self.checkpoint_dir, "unreadable")
        os.makedirs(aside, exist_ok=True)
        for path in unreadable:
            for name in tf.io.gfile.glob(path + ".*"):
                os.replace(name, os.path.join(aside, os.path.basename(name)))
        state = tf.train.get_checkpoint_state(self.checkpoint_dir)
        stamps = dict(
            zip(
                state.all_model_checkpoint_paths,
                state.all_model_checkpoint_timestamps,
                strict=False,
            )
        )
        # the manager only manages entries newer than last_preserved_timestamp: keep the stamps
        tf.compat.v1.train.update_checkpoint_state(
            self.checkpoint_dir,
            readable[-1],
            all_model_checkpoint_paths=readable,
            all_model_checkpoint_timestamps=[stamps.get(p, time.time()) for p in readable],
            last_preserved_timestamp=state.last_preserved_timestamp,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.checkpoint_dir, max_to_keep=self._max_to_keep
        )
        logging.warning("moved unreadable checkpoints %s to %s", unreadable, aside)

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
        return int(self.step.numpy())

    def _iterator_at(self, dataset: tf.data.Dataset, step: int):
        """An iterator over ``dataset`` positioned after ``step`` batches: the previous call's
        iterator when it is the same dataset and got that far, else a new one that skips them."""
        previous, iterator, position = self._iterator_state
        if previous is dataset and position == step:
            return iterator
        return iter(self._distribute(dataset.skip(step)))

    def save(self) -> str:
        return self.manager.save(checkpoint_number=int(self.step.numpy()))

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
                (as ``classification_pipeline(training=True)`` builds). On resume the first
                ``step`` batches are skipped, so a resumed run sees exactly the batches an
                uninterrupted run would have.
            total_steps: the step to stop at.
            verbose: 1 shows a progress bar, 0 is silent.

        Returns:
            The training loss and metrics averaged over the last logging interval.
        """
        start = self._check_training_input(dataset, total_steps, verbose)
        if start >= total_steps:
            return {}
        with self._preemption() as preemption:
            return self._train(dataset, total_steps, start, verbose, preemption)

    def _train(self, dataset, total_steps: int, start: int, verbose: int, preemption) -> dict:
        iterator = self._iterator_at(dataset, start)
        self._first_bad.assign(-1)
        batch_size = self._global_batch_size
        progbar = keras.utils.Progbar(total_steps, verbose=verbose, unit_name="step")
        results: dict = {}
        step = start
        while step < total_steps:
            next_checkpoint = (step // self.checkpoint_every + 1) * self.checkpoint_every
            num_steps = min(self.steps_per_loop, total_steps - step, next_checkpoint - step)
            for metric in [self.train_loss, *self.train_metrics]:
                metric.reset_state()
            began = time.perf_counter()
            try:
                self._train_loop(iterator, tf.constant(num_steps, dtype=tf.int32))
            except tf.errors.OutOfRangeError:
                raise ValueError(
                    f"the training dataset ran out after step {int(self.step.numpy())}: it is "
                    "empty, or does not repeat (training datasets must be infinite)"
                ) from None
            if self.on_nan == "raise" and int(self._first_bad.numpy()) >= 0:
                raise self._non_finite_error()
            results = self._results(self.train_loss, self.train_metrics)
            if self.on_nan == "skip_step":
                results["skipped_steps"] = int(self.skipped_steps.numpy())
            step = int(self.step.numpy())
            seconds = time.perf_counter() - began
            results["steps_per_second"] = num_steps / max(seconds, 1e-9)
            if batch_size:
                results["examples_per_second"] = results["steps_per_second"] * batch_size
            if self.steps_per_epoch:
                self.epoch.assign(step // self.steps_per_epoch)
                results["epoch"] = step // self.steps_per_epoch
            self._write_summaries(self._train_writer, results, step)
            progbar.stateful_metrics.update(results)  # show each interval's values, not means
            progbar.update(step, [(k, v) for k, v in results.items()], finalize=step == total_steps)
            if step % self.checkpoint_every == 0 or step == total_steps:
                self.save()
            if preemption is not None:  # a SIGTERM anywhere in the cluster: all save, then exit
                preemption.save_checkpoint_if_preempted(checkpoint_number=step)
        self._iterator_state = (dataset, iterator, step)
        return results

    @contextlib.contextmanager
    def _preemption(self):
        """A ``tf.distribute.experimental.PreemptionCheckpointHandler`` for the loop: on SIGTERM
        to any worker, every worker saves a checkpoint at the next loop boundary (at most
        ``steps_per_loop`` steps later) and the process exits with ``PREEMPTED_EXIT_CODE``;
        re-running the command resumes from it. Works for one process (any local strategy) and
        under ``MultiWorkerMirroredStrategy`` (the workers agree through the coordination
        service). SIGTERM's previous handler is put back afterwards."""
        previous = signal.getsignal(signal.SIGTERM)
        handler = self._preemption_handler
        if handler is None:
            # Made once per Trainer: making one restores the latest checkpoint (as ours already
            # did) and installs its SIGTERM handler.
            resolver = getattr(self.strategy, "cluster_resolver", None)
            if resolver is not None and not resolver.cluster_spec().jobs:
                resolver = None
            try:
                handler = tf.distribute.experimental.PreemptionCheckpointHandler(
                    resolver,
                    self.manager,
                    termination_config=tf.distribute.experimental.TerminationConfig(
                        exit_fn=self._exit_preempted
                    ),
                )
            except Exception as e:  # noqa: BLE001 - e.g. not the main thread: train without it
                logging.warning("SIGTERM will not save a checkpoint: %s", describe_error(e))
                handler = None
            self._preemption_handler = handler
        elif hasattr(handler, "_sigterm_handler_fn"):  # a later train(): listen again
            try:
                signal.signal(signal.SIGTERM, handler._sigterm_handler_fn)
            except ValueError:
                pass
        try:
            yield handler
        finally:
            if signal.getsignal(signal.SIGTERM) is not previous and previous is not None:
                try:
                    signal.signal(signal.SIGTERM, previous)
                except ValueError:
                    pass

    def _exit_preempted(self) -> None:
        if not is_chief(self.strategy):  # this worker's share of the save was scratch
            shutil.rmtree(os.path.dirname(self.checkpoint_dir), ignore_errors=True)
        print(
            f"preempted (SIGTERM): saved {self.manager.latest_checkpoint} at step "
            f"{int(self.step.numpy())}; re-run the same command to resume",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(PREEMPTED_EXIT_CODE)

    def _non_finite_error(self) -> NonFiniteError:
        step = int(self.step.numpy()) + 1  # the refused step was not counted
        what = self._checked_names()[int(self._first_bad.numpy())]
        where = self.manager.latest_checkpoint or "no checkpoint yet"
        return NonFiniteError(
            f"training stopped at step {step}: {what} is NaN or infinite (the update was not "
            f"applied; the last good checkpoint is {where}). Check the input data and the "
            "learning rate, or pass on_nan='skip_step' (--on_nan=skip_step) to skip such steps"
        )

    def evaluate(self, dataset: tf.data.Dataset) -> dict:
        """Loss and metrics over a finite dataset, aggregated across replicas."""
        for metric in [self.eval_loss, *self.eval_metrics]:
            metric.reset_state()
        self._eval_loop(self._distribute(dataset))
        if float(self.eval_loss.count.numpy()) == 0:
            raise ValueError("the evaluation dataset is empty: there is nothing to measure")
        results = self._results(self.eval_loss, self.eval_metrics)
        self._write_summaries(self._eval_writer, results, int(self.step.numpy()))
        return results

    def fit(self, dataset: tf.data.Dataset, total_steps: int, verbose: int = 1) -> dict:
        """The same training with Keras ``fit``: same model, loss, optimizer and checkpoints."""
        if self.on_nan == "skip_step":
            raise ValueError("on_nan='skip_step' needs the custom loop (Trainer.train)")
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise ValueError(
                "Keras fit does not work under MultiWorkerMirroredStrategy (keras-team/keras"
                "#20585); use the custom loop (--loop=custom) for multi-worker training"
            )
        start = self._check_training_input(dataset, total_steps, verbose)
        if start >= total_steps:
            return {}
        with self.strategy.scope():
            self.model.compile(
                optimizer=self.optimizer,
                loss=self.loss,
                metrics=self._build_metrics(),
                jit_compile=self.jit_compile,
            )
        history = self.model.fit(
            dataset.skip(start),
            epochs=1,
            steps_per_epoch=total_steps - start,
            callbacks=[_NonFiniteLoss(self), _StepCheckpoint(self)],
            shuffle=False,  # the dataset is already shuffled, by its seed
            verbose=verbose,
        )
        if int(self.step.numpy()) % self.checkpoint_every:  # else the callback just saved it
            self.save()
        return {k: float(v[-1]) for k, v in history.history.items()}

    # ----------------------------------------------------------------------------- helpers
    @staticmethod
    def _results(loss_metric, metrics) -> dict:
        results = {"loss": float(loss_metric.result())}
        for metric in metrics:
            value = metric.result()
            if isinstance(value, dict):
                results.update({k: float(v) for k, v in value.items()})
            else:
                results[metric.name] = float(value)
        return results

    @staticmethod
    def _write_summaries(writer, results: dict, step: int) -> None:
        with writer.as_default(step=step):
            for name, value in results.items():
                tf.summary.scalar(name, value)
        writer.flush()


def describe_error(error: Exception) -> str:
    """A short account of an error: a failed restore names its variables (not their values,
    which TensorFlow prints in full), anything else gives its first line, at most 300
    characters."""
    text = str(error).strip()
    # tf.Variable reprs ("<tf.Variable 'name' shape=(..) ...>") and Keras ones
    # ("<Variable path=name, shape=(..), ...>")
    variables = re.findall(r"<(?:tf\.)?Variable (?:path=|')([^,']+)'?,? shape=\(([^)]*)\)", text)
    if variables:
        found = re.search(r"Found (\d+) Python objects", text)
        total = int(found.group(1)) if found else len(variables)
        shown = ", ".join(f"{name} ({shape})" for name, shape in variables[:3])
        return (
            f"{total} variables of the model have no value in the checkpoint (a different "
            f"model?), e.g. {shown}"
        )
    line = text.splitlines()[0] if text else type(error).__name__
    return line[:300] + ("..." if len(line) > 300 else "")


def _remove_staging_dirs(directory: str) -> None:
    """Deletes ``ckpt-N_temp`` folders: the half-written saves of an interrupted process (a
    complete save renames its files out of it, and the state file never lists one)."""
    for path in tf.io.gfile.glob(os.path.join(directory, "*_temp")):
        if tf.io.gfile.isdir(path):
            tf.io.gfile.rmtree(path)


class _NonFiniteLoss(keras.callbacks.Callback):
    """Under ``fit``: stop with :class:`NonFiniteError` as soon as a batch's loss is NaN/Inf,
    before the step is counted or saved (``fit`` has applied that update in memory; the
    checkpoints are untouched). ``fit`` exposes no gradients, so a non-finite gradient shows up
    as non-finite weights, which :class:`_StepCheckpoint` refuses to save, and as the next
    step's loss. ``skip_step`` needs the custom loop."""

    def __init__(self, trainer: Trainer):
        super().__init__()
        self._trainer = trainer

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            trainer = self._trainer
            where = trainer.manager.latest_checkpoint or "no checkpoint yet"
            raise NonFiniteError(
                f"training stopped at step {int(trainer.step.numpy()) + 1}: loss is NaN or "
                f"infinite (the last good checkpoint is {where})"
            )


class _StepCheckpoint(keras.callbacks.Callback):
    """Keeps ``Trainer.step`` counting under ``fit`` and saves on the same schedule."""

    def __init__(self, trainer: Trainer):
        super().__init__()
        self._trainer = trainer

    def on_train_batch_end(self, batch, logs=None):
        trainer = self._trainer
        trainer.step.assign_add(1)
        step = int(trainer.step.numpy())
        if trainer.steps_per_epoch:
            trainer.epoch.assign(step // trainer.steps_per_epoch)
        if step % trainer.checkpoint_every == 0:
            bad = [v.path for v in trainer.model.weights if not np.all(np.isfinite(v.numpy()))]
            if bad:
                where = trainer.manager.latest_checkpoint or "no checkpoint yet"
                raise NonFiniteError(
                    f"training stopped at step {step}: weights {bad[0]} (and {len(bad) - 1} "
                    f"more) became NaN or infinite at or before this step; not saved (the last "
                    f"good checkpoint is {where})"
                )
            trainer.save()
