"""Optimizers and schedules by name, with their options validated together (for ``train.py``)."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from yeehaw_tf.optimizers import schedules as s
from yeehaw_tf.optimizers.adagrad import AdaGrad
from yeehaw_tf.optimizers.adam import Adam, AdamW
from yeehaw_tf.optimizers.rmsprop import RMSProp
from yeehaw_tf.optimizers.sgd import SGD

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "step", "exponential", "inverse", "inverse_sqrt", "linear", "cosine")
# Optimizers that take a momentum, and the momentum they use when none is given.
_MOMENTUM_DEFAULTS = {"sgd": 0.0, "momentum": 0.9, "nesterov": 0.9, "rmsprop": 0.0}


def make_schedule(
    name: str,
    learning_rate: float,
    total_steps: int,
    boundaries: Sequence[int] = (),
    decay_factor: float = 0.1,
    decay_steps: int | None = None,
    decay_rate: float = 0.5,
    end_learning_rate: float = 0.0,
    warmup_steps: int = 0,
):
    """The learning rate as a function of the step.

    - ``constant``: ``learning_rate``;
    - ``step``: multiplied by ``decay_factor`` after each of ``boundaries``;
    - ``exponential``: ``lr * decay_rate^(step / decay_steps)``;
    - ``inverse``: ``lr / (1 + decay_rate * step / decay_steps)``;
    - ``inverse_sqrt``: linear warm-up over ``warmup_steps`` to ``lr``, then ``1/sqrt(t)``;
    - ``linear``: to ``end_learning_rate`` at ``total_steps``;
    - ``cosine``: to ``end_learning_rate`` at ``total_steps``.

    ``decay_steps`` defaults to a tenth of the run. ``warmup_steps`` puts a linear warm-up from 0
    in front of any schedule (for ``inverse_sqrt`` it is the schedule's own warm-up); decaying
    schedules then decay over the remaining steps.
    """
    if name not in SCHEDULES:
        raise ValueError(f"unknown lr_schedule {name!r}; valid names: {', '.join(SCHEDULES)}")
    if not 0 < learning_rate < float("inf"):
        raise ValueError(f"learning_rate must be positive and finite, got {learning_rate}")
    if warmup_steps < 0 or warmup_steps >= total_steps:
        raise ValueError(
            f"warmup_steps must be in [0, total steps = {total_steps}), got {warmup_steps}"
        )
    if boundaries and name != "step":
        raise ValueError(f"lr_boundaries apply to lr_schedule=step, not {name!r}")
    if name == "inverse_sqrt":
        if not warmup_steps:
            raise ValueError("lr_schedule=inverse_sqrt needs warmup_steps > 0")
        return s.InverseSqrtDecay(learning_rate, warmup_steps)
    steps = total_steps - warmup_steps
    if decay_steps is None:
        decay_steps = max(1, total_steps // 10)
    elif isinstance(decay_steps, bool) or not isinstance(decay_steps, int) or decay_steps < 1:
        raise ValueError(f"lr_decay_steps must be a positive integer, got {decay_steps!r}")
    if name == "constant":
        schedule = learning_rate
    elif name == "step":
        if not boundaries:
            raise ValueError("lr_schedule=step needs lr_boundaries (increasing steps)")
        if not 0 < decay_factor < 1:
            raise ValueError(f"lr_decay_factor must be in (0, 1), got {decay_factor}")
        if any(b >= c for b, c in zip(boundaries, boundaries[1:], strict=False)):
            raise ValueError(f"lr_boundaries must be strictly increasing, got {list(boundaries)}")
        if any(b <= warmup_steps or b >= total_steps for b in boundaries):
            raise ValueError(
                f"lr_boundaries must lie after the warm-up ({warmup_steps}) and before the last "
                f"step ({total_steps}), got {list(boundaries)}"
            )
        values = [learning_rate * decay_factor**i for i in range(len(boundaries) + 1)]
        # boundaries are absolute steps; the warm-up wrapper runs the schedule from its end
        schedule = s.StepDecay([b - warmup_steps for b in boundaries], values)
    elif name == "exponential":
        schedule = s.ExponentialDecay(learning_rate, decay_steps, decay_rate)
    elif name == "inverse":
        schedule = s.InverseTimeDecay(learning_rate, decay_steps, decay_rate)
    else:
        if not 0 <= end_learning_rate < learning_rate:
            raise ValueError(
                f"end_learning_rate must be in [0, learning_rate), got {end_learning_rate}"
            )
        if name == "linear":
            schedule = s.LinearDecay(learning_rate, steps, end_learning_rate)
        else:
            schedule = s.CosineDecay(learning_rate, steps, alpha=end_learning_rate / learning_rate)
    return s.LinearWarmup(schedule, warmup_steps) if warmup_steps else schedule


def make_optimizer(
    name: str,
    learning_rate,
    momentum: float | None = None,
    weight_decay: float = 0.0,
    clipnorm: float | None = None,
    global_clipnorm: float | None = None,
    exclude_from_weight_decay: Sequence[str] = ("bias", "gamma", "beta"),
) -> keras.optimizers.Optimizer:
    """One of ``OPTIMIZERS``. ``momentum`` is for the SGD family and RMSProp only;
    ``weight_decay`` is decoupled (and required for ``adamw``) and spares variables whose names
    contain ``exclude_from_weight_decay``."""
    check_optimizer_options(name, momentum, weight_decay, clipnorm, global_clipnorm)
    base = {
        "clipnorm": clipnorm,
        "global_clipnorm": global_clipnorm,
        "weight_decay": weight_decay or None,
    }
    m = _MOMENTUM_DEFAULTS.get(name) if momentum is None else momentum
    if name in ("sgd", "momentum", "nesterov"):
        optimizer = SGD(learning_rate, momentum=m, nesterov=name == "nesterov", **base)
    elif name == "adagrad":
        optimizer = AdaGrad(learning_rate, **base)
    elif name == "rmsprop":
        optimizer = RMSProp(learning_rate, momentum=m, **base)
    elif name == "adam":
        optimizer = Adam(learning_rate, **base)
    else:
        optimizer = AdamW(learning_rate, **{**base, "weight_decay": weight_decay})
    if weight_decay and exclude_from_weight_decay:
        optimizer.exclude_from_weight_decay(var_names=list(exclude_from_weight_decay))
    return optimizer


def check_optimizer_options(
    name: str,
    momentum: float | None = None,
    weight_decay: float = 0.0,
    clipnorm: float | None = None,
    global_clipnorm: float | None = None,
) -> None:
    """Validates :func:`make_optimizer`'s options without building anything (building an
    optimizer creates TensorFlow variables, which must wait until a multi-worker strategy
    exists)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(OPTIMIZERS)}")
    if momentum is not None and name not in _MOMENTUM_DEFAULTS:
        raise ValueError(f"momentum does not apply to optimizer {name!r}")
    if name == "nesterov" and momentum == 0:
        raise ValueError("optimizer=nesterov needs momentum > 0")
    if clipnorm is not None and global_clipnorm is not None:
        raise ValueError("give clipnorm or global_clipnorm, not both")
    for arg, value in (("clipnorm", clipnorm), ("global_clipnorm", global_clipnorm)):
        if value is not None and not value > 0:
            raise ValueError(f"{arg} must be > 0, got {value}")
    if not 0 <= weight_decay < float("inf"):
        raise ValueError(f"weight_decay must be >= 0 and finite, got {weight_decay}")
    if name == "adamw" and not weight_decay:
        raise ValueError("optimizer=adamw needs weight_decay > 0 (or use optimizer=adam)")
    if momentum is not None and not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
