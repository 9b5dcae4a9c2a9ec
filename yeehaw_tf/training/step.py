"""One training step on one replica: the context a task's ``train_step`` runs in, the NaN
guard, and the undo of a refused step.

The Trainer calls :meth:`StepRunner.run` inside ``strategy.run`` (the custom loop and the
``fit`` bridge alike). The task's ``train_step(ctx, batch)`` calls
``ctx.minimize(optimizer_name, loss_fn, model)`` once per optimizer group it updates; each call
opens a tape, normalises the loss (its normalizer summed across replicas), adds the models'
regularisation losses, takes the gradients and applies them -- unless the loss or a gradient is
non-finite on *any* replica (they agree by an all-reduce, so every replica takes the same
branch). Once a group is refused, the step's later groups are not applied either, and at the end
of the step everything the step changed is put back: the forward passes' state (batch-norm
moving statistics), and, for tasks with their own step, the variables and optimizer slots of the
groups applied before the refusal. Applying happens in the cross-replica context, as Keras's
``LossScaleOptimizer`` does: the update calls ``merge_call``, which cannot sit inside a
replica-context ``cond``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import keras
import tensorflow as tf

from yeehaw_tf.training.randomness import StepRandomness
from yeehaw_tf.training.tasks.base import LossOutput


class NonFiniteError(RuntimeError):
    """The loss or a gradient became NaN or infinite; the update was not applied and nothing
    was saved, so the newest checkpoint is the last good state."""


def _as_models(target) -> list:
    return list(target) if isinstance(target, list | tuple) else [target]


def trainable_variables(target) -> list:
    """The trainable variables of a model, a list of models, or a list of variables."""
    variables = []
    for item in _as_models(target):
        variables.extend(
            item.trainable_variables if hasattr(item, "trainable_variables") else [item]
        )
    return variables


def regularization_loss(target) -> tf.Tensor | None:
    """The sum of the models' ``losses`` (weight penalties, ``add_loss``), or ``None``."""
    losses = [
        loss for item in _as_models(target) if isinstance(item, keras.Model) for loss in item.losses
    ]
    return tf.add_n(losses) if losses else None


def finite_check(loss, grads) -> tuple[tf.Tensor, tf.Tensor]:
    """``(all finite, index of the first non-finite tensor)`` of ``[loss, *grads]`` (``None``
    gradients count as finite).

    The common case costs a few ops whatever the number of tensors: tensors of one shape are
    added element-wise (one ``AddN``), each such sum is summed, and if the total is finite every
    element is (a NaN or an infinity makes any sum it enters non-finite). Only otherwise -- a
    non-finite value, or finite values whose sum overflows -- is every tensor checked element by
    element, which decides exactly and names the first bad one.
    """
    tensors = [loss, *grads]
    by_shape: dict[tuple, list] = {}
    for i, t in enumerate(tensors):
        if t is not None:
            t = tf.cast(_dense(t), tf.float32)
            key = tuple(t.shape) if t.shape.is_fully_defined() else i  # unknown: on its own
            by_shape.setdefault(key, []).append(t)
    sums = [
        tf.reduce_sum(group[0] if len(group) == 1 else tf.add_n(group))
        for group in by_shape.values()
    ]
    total = sums[0] if len(sums) == 1 else tf.add_n(sums)

    def exact():
        flags = tf.stack(
            [
                tf.constant(True) if t is None else tf.reduce_all(tf.math.is_finite(_dense(t)))
                for t in tensors
            ]
        )
        return tf.reduce_all(flags), tf.argmin(tf.cast(flags, tf.int32), output_type=tf.int32)

    return tf.cond(
        tf.math.is_finite(total), lambda: (tf.constant(True), tf.constant(0, tf.int32)), exact
    )


def _dense(t):
    return t.values if isinstance(t, tf.IndexedSlices) else t


def normalize(output: LossOutput, global_batch_size, context) -> LossOutput:
    """``output`` divided by its normalizer summed over every replica (by default the global
    batch size): this replica's share of the global loss."""
    if output.normalizer is None:
        denominator = global_batch_size
    else:
        # a count: no gradient reaches the collective (the tape adds none in the backward pass)
        count = tf.cast(output.normalizer, tf.float32)
        denominator = tf.stop_gradient(tf.maximum(context.all_reduce("sum", count), 1.0))

    def divide(value):
        return tf.cast(value, tf.float32) / tf.cast(denominator, tf.float32)

    return LossOutput(
        total=divide(output.total),
        components={k: divide(v) for k, v in output.components.items()},
        outputs=output.outputs,
        normalizer=denominator,
    )


class StepContext:
    """What a task's ``train_step`` sees on one replica.

    Attributes:
        models, optimizers: the task's named models and optimizers.
        random: :class:`~yeehaw_tf.training.randomness.StepRandomness` for this step.
        step: the step being taken (int64 scalar tensor; 0 for the first).
        global_batch_size: the global batch (a scalar tensor).
        num_replicas, replica: the replica count and this replica's index.
    """

    def __init__(self, runner: StepRunner, step, batch, runner_state=()):
        context = tf.distribute.get_replica_context()
        self._runner = runner
        self._context = context
        self.models = runner.models
        self.optimizers = runner.optimizers
        self.num_replicas = context.num_replicas_in_sync
        self.replica = context.replica_id_in_sync_group
        first = tf.nest.flatten(batch)[0]
        static = first.shape[0]
        self.global_batch_size = (
            tf.constant(static * self.num_replicas, tf.float32)
            if static is not None
            else context.all_reduce("sum", tf.cast(tf.shape(first)[0], tf.float32))
        )
        self.step = tf.cast(step, tf.int64)
        self.random = StepRandomness(runner.seed, step, self.replica, self.num_replicas)
        self.ok = tf.constant(True)
        self.bad_code = tf.constant(-1, tf.int32)
        self.losses: dict[str, tf.Tensor] = {}
        self.components: dict[str, tf.Tensor] = {}
        self._snapshots: dict[str, tuple[list, list]] = {}
        self._calls: list[str] = []
        self._state = runner_state
        self._pending = None  # the default step's (optimizer, variables, gradients)
        self._metric_inputs: list = []

    def normalize(self, output: LossOutput) -> LossOutput:
        return normalize(output, self.global_batch_size, self._context)

    def minimize(
        self,
        name: str,
        loss_fn: Callable[[], LossOutput | tf.Tensor],
        target,
        gradient_scales=None,
    ):
        """Minimises ``loss_fn()`` (a :class:`LossOutput`, or a summed loss tensor) over the
        trainable variables of ``target`` (a model, models, or variables) with optimizer
        ``name``; returns the normalised :class:`LossOutput` (regularisation included in its
        ``total``). Call it once per group and step (a group minimised twice in a step, e.g. a
        critic updated ``n`` times, logs its last loss).

        ``gradient_scales``: optional ``[(variables, scale), ...]``; each listed variable's
        gradient is multiplied by its scalar ``scale`` (a tensor), e.g. 0 to hold pre-trained
        layers still until a step (two-phase transfer learning)."""
        runner = self._runner
        if name not in self.optimizers:
            raise ValueError(
                f"minimize: no optimizer named {name!r}; the task built {sorted(self.optimizers)}"
            )
        optimizer = self.optimizers[name]
        variables = trainable_variables(target)

        def loss_and_gradients():
            with tf.GradientTape() as tape:
                raw = loss_fn()
                if not isinstance(raw, LossOutput):
                    raw = LossOutput(total=raw)
                result = self.normalize(raw)
                loss = result.total
                penalty = regularization_loss(target)
                if penalty is not None:
                    loss += tf.nn.scale_regularization_loss(tf.cast(penalty, tf.float32))
                scaled = optimizer.scale_loss(loss)
            grads = _scaled(tape.gradient(scaled, variables), variables, gradient_scales)
            # plain structures, so that an XLA-compiled function can return them
            return loss, dict(result.components), result.outputs, result.normalizer, grads

        if runner.jit_compile:
            loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)
        loss, components, outputs, normalizer, grads = loss_and_gradients()
        result = LossOutput(loss, components, outputs, normalizer)
        # under float16 loss scaling, overflowing gradients are the loss scaler's to handle
        checked = not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        finite, first_bad = finite_check(loss, grads if checked else [])
        bad = self._context.all_reduce("sum", 1 - tf.cast(finite, tf.int32))
        ok_here = tf.equal(bad, 0)
        code = runner.check_offset(name) + first_bad
        self.bad_code = tf.where(
            tf.logical_and(self.ok, tf.logical_not(ok_here)), code, self.bad_code
        )
        self.ok = tf.logical_and(self.ok, ok_here)
        self._calls.append(name)
        if runner.snapshot_groups:
            if name not in self._snapshots:
                # the group's value before the step, so that a later group's refusal can undo
                # it (only the first minimize of a group needs one; see _finish for the last)
                tracked = [*variables, *optimizer.variables]
                self._snapshots[name] = (tracked, [tf.identity(v) for v in tracked])
            # applied now: the step's later groups see the update (a critic step, then the
            # generator's through the updated critic)
            apply = functools.partial(_apply_if, optimizer, variables)
            self._context.merge_call(apply, args=(grads, self.ok))
        else:
            # the default step minimises once: its update waits for _finish, which applies it
            # and updates the metrics, or undoes the forward pass, in one cond
            self._pending = (optimizer, variables, grads)
        self.losses[name] = loss
        for key, value in result.components.items():
            self.components[key] = value
        return result

    def assign(self, variables, update: Callable) -> None:
        """Unless the step has been refused so far: every variable ``v`` becomes ``update(v)``
        (e.g. WGAN's weight clipping after a critic update, or a moving average of the weights),
        on every replica alike. ``variables`` are mirrored, so ``update`` runs once, in the
        cross-replica context, on their common value.

        For a task with its own step, what is assigned is undone if a later group is refused:
        trainable variables with their group's snapshot, others (a non-trainable EMA model's
        weights) with the forward passes' state."""

        def apply(strategy, ok):
            ok = strategy.experimental_local_results(ok)[0]

            def run():
                for variable in variables:
                    variable.assign(update(variable))

            tf.cond(ok, run, lambda: None)

        self._context.merge_call(apply, args=(self.ok,))

    def update_metrics(self, batch, outputs) -> None:
        """Updates the task's training metrics with ``outputs``, if the step is applied."""
        self._metric_inputs.append((batch, outputs))

    # ----------------------------------------------------------------------------- Trainer
    def _finish(self) -> tf.Tensor:
        """After the task's step, in one cross-replica cond: if it was applied, apply the
        default step's pending update and update the metrics; if refused, undo it."""
        runner = self._runner
        for name in self.components:
            if name not in runner.component_metrics:
                raise ValueError(
                    f"task {runner.task.name!r} returned loss component {name!r}, which is "
                    f"not in its loss_names() {tuple(runner.component_metrics)}"
                )
        # a group first minimised by the step's last call was applied last: nothing after it
        # can be refused, so its snapshot is not needed (and its reads are pruned)
        last = self._calls[-1] if self._calls else None
        needed = [n for n in self._snapshots if n != last or self._calls.count(n) > 1]
        tracked = [self._snapshots[n][0] for n in needed]
        saved = [self._snapshots[n][1] for n in needed]
        optimizer, variables, grads = self._pending or (None, None, [])
        values = (dict(self.losses), dict(self.components), list(self._metric_inputs))
        self._context.merge_call(
            functools.partial(runner.finish, optimizer, variables, tracked, self.num_replicas),
            args=(self.ok, self.bad_code, self._state, saved, grads, values),
        )
        return self.ok


def _scaled(grads, variables, gradient_scales):
    """``grads`` with each variable in ``gradient_scales`` (``[(variables, scale)]``) scaled."""
    if not gradient_scales:
        return grads
    scales = {}
    for group, scale in gradient_scales:
        for variable in group:
            scales[id(variable)] = scale
    return [
        g if g is None or id(v) not in scales else g * tf.cast(scales[id(v)], g.dtype)
        for g, v in zip(grads, variables, strict=True)
    ]


def _apply_if(optimizer, variables, strategy, grads, ok) -> None:
    ok = strategy.experimental_local_results(ok)[0]

    def apply():
        strategy.extended.call_for_each_replica(
            lambda g: optimizer.apply_gradients(zip(g, variables, strict=True)), args=(grads,)
        )

    tf.cond(ok, apply, lambda: None)


class StepRunner:
    """Holds what every step needs (the task, its models and optimizers, the metrics, the
    counters the guard writes) and runs one step on one replica (:meth:`run`)."""

    def __init__(
        self,
        *,
        task,
        models: Mapping[str, keras.Model],
        optimizers: Mapping[str, keras.optimizers.Optimizer],
        seed: int,
        jit_compile: bool,
        loss_metrics: Mapping[str, keras.metrics.Metric],
        total_loss: keras.metrics.Metric | None,
        component_metrics: Mapping[str, keras.metrics.Metric],
        train_metrics: list,
        skipped_steps: tf.Variable,
        first_bad: tf.Variable,
    ):
        self.task = task
        self.models = dict(models)
        self.optimizers = dict(optimizers)
        self.seed = seed
        self.jit_compile = jit_compile
        self.loss_metrics = loss_metrics  # optimizer group -> Mean of its loss
        self.total_loss = total_loss  # with several groups: Mean of their sum
        self.component_metrics = component_metrics
        self.train_metrics = train_metrics
        self.skipped_steps = skipped_steps
        self.first_bad = first_bad
        # Only a task with its own step can apply a group and then refuse a later one.
        self.snapshot_groups = task.has_own_train_step()
        self._names: list[str] = []
        self._offsets: dict[str, int] = {}
        for name, optimizer in self.optimizers.items():
            self._offsets[name] = len(self._names)
            label = "loss" if len(self.optimizers) == 1 else f"loss of optimizer {name!r}"
            self._names.append(label)
            if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                self._names += [v.path for v in task.optimizer_variables(name, self.models)]

    def check_offset(self, name: str) -> int:
        return self._offsets[name]

    def checked_name(self, code: int) -> str:
        """What the guard's code ``first_bad`` names: the loss or a variable's gradient."""
        return self._names[code] if 0 <= code < len(self._names) else f"check {code}"

    def run(self, batch, step) -> tf.Tensor:
        """One step on this replica; returns whether it was applied (the same everywhere)."""
        non_trainable = [v for model in self.models.values() for v in model.non_trainable_variables]
        state_before = [tf.identity(v) for v in non_trainable]
        ctx = StepContext(self, step, batch, state_before)
        self.task.train_step(ctx, batch)
        return ctx._finish()

    def finish(
        self,
        optimizer,
        variables,
        tracked,
        replicas,
        strategy,
        ok,
        bad_code,
        state,
        saved,
        grads,
        values,
    ) -> None:
        """Cross-replica context, at the end of a step: if it was applied, apply the pending
        update (the default step's; ``optimizer`` is ``None`` otherwise) and update the
        metrics on every replica; if refused, :meth:`undo` it."""

        def applied_on_replica(grads, values):
            if optimizer is not None:
                optimizer.apply_gradients(zip(grads, variables, strict=True))
            self.update_metrics(replicas, *values)

        def applied():
            strategy.extended.call_for_each_replica(applied_on_replica, args=(grads, values))

        ok = strategy.experimental_local_results(ok)[0]
        tf.cond(ok, applied, lambda: self.undo(strategy, bad_code, state, tracked, saved))

    def update_metrics(self, replicas, losses, components, metric_inputs) -> None:
        """Replica context, for an applied step: each loss is this replica's share of the
        global loss and the Mean metrics average over replicas, so each is scaled by the
        number of replicas to report the global value."""
        for name, loss in losses.items():
            self.loss_metrics[name].update_state(loss * replicas)
        if self.total_loss is not None and losses:
            self.total_loss.update_state(tf.add_n(list(losses.values())) * replicas)
        for name, value in components.items():
            self.component_metrics[name].update_state(tf.cast(value, tf.float32) * replicas)
        for batch, outputs in metric_inputs:
            self.task.update_metrics(self.train_metrics, batch, outputs)

    def undo(self, strategy, bad_code, state_before, tracked, saved) -> None:
        """Cross-replica context: put back the forward passes' state and each group's first
        snapshot (its value before the step), count the step as skipped, remember the code."""
        local = strategy.experimental_local_results
        non_trainable = [v for model in self.models.values() for v in model.non_trainable_variables]
        for variable, value in zip(non_trainable, local(state_before)[0], strict=True):
            variable.assign(value)
        for variables, values in zip(tracked, saved, strict=True):
            for variable, value in zip(variables, local(values)[0], strict=True):
                variable.assign(value)
        self.skipped_steps.assign_add(1)
        self.first_bad.assign(local(bad_code)[0])


class EvalContext:
    """What :meth:`Task.compute_loss` sees during evaluation: the models and stateless
    randomness seeded from ``(seed, -1 - batch index)`` (apart from every training step's)."""

    def __init__(self, models: Mapping, seed: int, batch_index, batch):
        context = tf.distribute.get_replica_context()
        self.models = models
        self.num_replicas = context.num_replicas_in_sync
        self.replica = context.replica_id_in_sync_group
        self.random = StepRandomness(
            seed, -1 - tf.cast(batch_index, tf.int64), self.replica, self.num_replicas
        )
