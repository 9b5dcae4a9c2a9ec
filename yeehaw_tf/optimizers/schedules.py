"""Learning-rate schedules (the notes' "LR decay"), each ``lr(step)`` from its closed form.

``step`` is the optimizer's iteration count, starting at 0. All are
``keras.optimizers.schedules.LearningRateSchedule`` subclasses: pass one as ``learning_rate``
to any optimizer; they serialise with ``get_config``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

Schedule = keras.optimizers.schedules.LearningRateSchedule


def _positive(cls: str, name: str, value) -> None:
    if not value > 0:
        raise ValueError(f"{cls}: {name} must be > 0, got {value}")


def _step(step):
    return ops.cast(step, "float32")


def _wrapped(cls: str, schedule):
    """A wrapped schedule argument: a schedule, a number, or a schedule's serialized dict."""
    if isinstance(schedule, dict):
        schedule = keras.optimizers.schedules.deserialize(schedule)
    if not isinstance(schedule, (Schedule, int, float)):
        raise ValueError(
            f"{cls}: schedule must be a LearningRateSchedule or a number, got {schedule!r}"
        )
    return schedule


def _rate(schedule, step):
    """The wrapped ``schedule``'s rate at ``step`` (float32)."""
    if isinstance(schedule, Schedule):
        return ops.cast(schedule(step), "float32")
    return ops.convert_to_tensor(float(schedule), "float32")


def _serialized(schedule):
    if isinstance(schedule, Schedule):
        return keras.optimizers.schedules.serialize(schedule)
    return schedule


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class StepDecay(Schedule):
    """Piecewise constant: ``values[0]`` up to and including ``boundaries[0]``, ``values[1]``
    up to ``boundaries[1]``, ..., ``values[-1]`` after the last boundary (Keras's
    ``PiecewiseConstantDecay`` convention). The notes: "in practice, step decay is used".

    Args:
        boundaries: strictly increasing steps.
        values: one more value than boundaries.
    """

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]):
        if any(int(b) != b for b in boundaries):
            raise ValueError(f"StepDecay: boundaries must be integers (steps), got {boundaries}")
        boundaries = [int(b) for b in boundaries]
        values = [float(v) for v in values]
        if any(b >= c for b, c in zip(boundaries, boundaries[1:], strict=False)):
            raise ValueError(f"StepDecay: boundaries must be strictly increasing, got {boundaries}")
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"StepDecay: needs len(values) == len(boundaries) + 1, got {len(values)} values "
                f"for {len(boundaries)} boundaries"
            )
        self.boundaries = boundaries
        self.values = values

    def __call__(self, step):
        step = _step(step)
        lr = ops.convert_to_tensor(self.values[0], "float32")
        for boundary, value in zip(self.boundaries, self.values[1:], strict=True):
            lr = ops.where(step > boundary, value, lr)
        return lr

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values}


class _TimeDecay(Schedule):
    """Shared by the decays of ``p = step / decay_steps`` (floored if ``staircase``)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
    ):
        name = type(self).__name__
        _positive(name, "initial_learning_rate", initial_learning_rate)
        _positive(name, "decay_steps", decay_steps)
        if not decay_rate >= 0:
            raise ValueError(f"{name}: decay_rate must be >= 0, got {decay_rate}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)

    def _progress(self, step):
        p = _step(step) / self.decay_steps
        return ops.floor(p) if self.staircase else p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ExponentialDecay(_TimeDecay):
    """``lr0 * decay_rate ^ (step / decay_steps)`` (floored exponent if ``staircase``)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
    ):
        _positive("ExponentialDecay", "decay_rate", decay_rate)
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase)

    def __call__(self, step):
        return self.initial_learning_rate * ops.power(self.decay_rate, self._progress(step))


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class InverseTimeDecay(_TimeDecay):
    """The notes' "inverse" decay: ``lr0 / (1 + decay_rate * step / decay_steps)``."""

    def __call__(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class InverseSqrtDecay(Schedule):
    """Linear warm-up then ``1/sqrt(t)`` decay (Vaswani et al., 2017)::

        lr(step) = peak * sqrt(warmup_steps) * min(t^-0.5, t * warmup_steps^-1.5),  t = step + 1

    The Transformer's ``d_model^-0.5`` scale is replaced by ``peak * sqrt(warmup_steps)`` so
    the maximum, reached at ``t = warmup_steps``, is ``peak_learning_rate``.
    """

    def __init__(self, peak_learning_rate: float, warmup_steps: int):
        _positive("InverseSqrtDecay", "peak_learning_rate", peak_learning_rate)
        _positive("InverseSqrtDecay", "warmup_steps", warmup_steps)
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        t = _step(step) + 1.0
        w = float(self.warmup_steps)
        scale = self.peak_learning_rate * math.sqrt(w)
        return scale * ops.minimum(ops.rsqrt(t), t * w**-1.5)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate, "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class LinearDecay(Schedule):
    """Straight line from ``lr0`` at step 0 to ``end_learning_rate`` at ``decay_steps``, then
    constant (Keras's ``PolynomialDecay`` with ``power=1``)."""

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0
    ):
        _positive("LinearDecay", "initial_learning_rate", initial_learning_rate)
        _positive("LinearDecay", "decay_steps", decay_steps)
        if not end_learning_rate >= 0:
            raise ValueError(
                f"LinearDecay: end_learning_rate must be >= 0, got {end_learning_rate}"
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.end_learning_rate = float(end_learning_rate)

    def __call__(self, step):
        fraction = ops.minimum(_step(step), float(self.decay_steps)) / self.decay_steps
        span = self.initial_learning_rate - self.end_learning_rate
        return self.end_learning_rate + span * (1.0 - fraction)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class LinearWarmup(Schedule):
    """Wraps any schedule: for the first ``warmup_steps`` steps the rate rises linearly from
    ``initial_learning_rate`` to ``schedule(0)``, then ``schedule(step - warmup_steps)``: the
    wrapped schedule runs in full after the warm-up."""

    def __init__(
        self, schedule: Schedule | float, warmup_steps: int, initial_learning_rate: float = 0.0
    ):
        _positive("LinearWarmup", "warmup_steps", warmup_steps)
        if not initial_learning_rate >= 0:
            raise ValueError(
                f"LinearWarmup: initial_learning_rate must be >= 0, got {initial_learning_rate}"
            )
        schedule = _wrapped("LinearWarmup", schedule)
        self.schedule = schedule
        self.warmup_steps = int(warmup_steps)
        self.initial_learning_rate = float(initial_learning_rate)

    def _after(self, step):
        return _rate(self.schedule, step)

    def __call__(self, step):
        step = _step(step)
        target = self._after(ops.zeros_like(step))
        ramp = self.initial_learning_rate + (target - self.initial_learning_rate) * (
            step / self.warmup_steps
        )
        after = self._after(ops.maximum(step - self.warmup_steps, 0.0))
        return ops.where(step < self.warmup_steps, ramp, after)

    def get_config(self):
        return {
            "schedule": _serialized(self.schedule),
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class CosineDecay(Schedule):
    """Cosine annealing (Loshchilov & Hutter, 2017, "SGDR")::

        lr(step) = lr0 * (alpha + (1 - alpha) * (1 + cos(pi * min(step, T) / T)) / 2)

    with ``T = decay_steps``. With ``restarts`` the curve starts again after each period; period
    ``i`` lasts ``T * t_mul^i`` steps and its cosine term is scaled by ``m_mul^i``:
    ``lr0 * (alpha + (1 - alpha) * m_mul^i * (1 + cos(pi * f)) / 2)`` (Keras's
    ``CosineDecayRestarts``). With ``warmup_steps`` a :class:`LinearWarmup` from 0 comes first
    (Keras's ``CosineDecay(0, ..., warmup_target=lr0)``).
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        warmup_steps: int = 0,
        restarts: bool = False,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
    ):
        _positive("CosineDecay", "initial_learning_rate", initial_learning_rate)
        _positive("CosineDecay", "decay_steps", decay_steps)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"CosineDecay: alpha must be in [0, 1], got {alpha}")
        if warmup_steps < 0:
            raise ValueError(f"CosineDecay: warmup_steps must be >= 0, got {warmup_steps}")
        if not t_mul >= 1:  # shorter and shorter periods would end at a finite step
            raise ValueError(f"CosineDecay: t_mul must be >= 1, got {t_mul}")
        _positive("CosineDecay", "m_mul", m_mul)
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.alpha = float(alpha)
        self.warmup_steps = int(warmup_steps)
        self.restarts = bool(restarts)
        self.t_mul = float(t_mul)
        self.m_mul = float(m_mul)
        self._warmup = None
        if warmup_steps:
            cosine = CosineDecay(
                initial_learning_rate, decay_steps, alpha, 0, restarts, t_mul, m_mul
            )
            self._warmup = LinearWarmup(cosine, warmup_steps)

    def _cosine(self, step):
        T = float(self.decay_steps)
        height = ops.convert_to_tensor(1.0, "float32")
        if self.restarts:
            fraction = step / T
            if self.t_mul == 1.0:
                cycle = ops.floor(fraction)
                fraction = fraction - cycle
            else:  # sum_{i<n} t_mul^i = (t_mul^n - 1) / (t_mul - 1) periods have passed
                cycle = ops.floor(
                    ops.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul)
                )
                done = (1.0 - ops.power(self.t_mul, cycle)) / (1.0 - self.t_mul)
                fraction = (fraction - done) / ops.power(self.t_mul, cycle)
            height = ops.power(self.m_mul, cycle)
        else:
            fraction = ops.minimum(step, T) / T
        cosine = 0.5 * height * (1.0 + ops.cos(math.pi * fraction))
        return self.initial_learning_rate * (self.alpha + (1.0 - self.alpha) * cosine)

    def __call__(self, step):
        if self._warmup is not None:
            return self._warmup(step)
        return self._cosine(_step(step))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "warmup_steps": self.warmup_steps,
            "restarts": self.restarts,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class FineTuneScale(Schedule):
    """Wraps any schedule for two-phase transfer learning: ``schedule(step)`` until
    ``boundary``, then ``factor * schedule(step)`` (the lower learning rate of fine-tuning once
    the pre-trained layers are unfrozen, as in the Keras transfer-learning guide)."""

    def __init__(self, schedule: Schedule | float, boundary: int, factor: float):
        _positive("FineTuneScale", "boundary", boundary)
        _positive("FineTuneScale", "factor", factor)
        self.schedule = _wrapped("FineTuneScale", schedule)
        self.boundary = int(boundary)
        self.factor = float(factor)

    def __call__(self, step):
        step = _step(step)
        rate = _rate(self.schedule, step)
        return ops.where(step < self.boundary, rate, rate * self.factor)

    def get_config(self):
        return {
            "schedule": _serialized(self.schedule),
            "boundary": self.boundary,
            "factor": self.factor,
        }
