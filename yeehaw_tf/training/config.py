"""Run configuration as data: the fields every run has, plus the task's own options dataclass.

:class:`TrainConfig` holds what every paradigm shares (workdir, steps, batch, seed, strategy,
precision, optimizer and schedule, export); ``options`` is the chosen task's options dataclass,
which validates itself. Each default is written once, in these dataclasses; ``train.py``'s flags
are generated from them (``yeehaw_tf.cli.flags``). :func:`make_config` builds a configuration
from flat keyword arguments, as the flags give them, and names any option that the task does
not have.
"""

from __future__ import annotations

import dataclasses

from yeehaw_tf.export.exporter import FORMATS
from yeehaw_tf.export.tflite import QUANTIZATIONS
from yeehaw_tf.optimizers import (
    OPTIMIZERS,
    SCHEDULES,
    check_optimizer_options,
    make_optimizer,
    make_schedule,
)
from yeehaw_tf.training.tasks import DEFAULT_TASK, TASKS, TaskOptions, get_task, task_names
from yeehaw_tf.training.tasks.options import option
from yeehaw_tf.training.trainer import ON_NAN

LOOPS = ("custom", "fit")
# Fields that only say how to run; every other field defines the run, and resuming a workdir
# with a different value is refused.
RUN_OPTIONS = (
    "workdir",
    "data_dir",
    "checkpoint_every",
    "steps_per_loop",
    "num_cpu_devices",
    "deterministic",
    "jit_compile",
    "loop",
    "export",
    "formats",
    "quantize",
    "on_nan",
)
MIXED_PRECISION = ("none", "float16", "bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs; validated on construction.

    ``train_steps`` wins over the task's ``epochs`` option. An epoch is ``num_train //
    batch_size`` steps (the last partial batch is dropped so that every step sees a full global
    batch).
    """

    workdir: str = option("", "Where checkpoints, TensorBoard logs and exports go.")
    task: str = option(DEFAULT_TASK, "What to train.", task_names)
    options: TaskOptions | None = None
    data_dir: str | None = option(None, "TFDS data directory (default ~/.cache/yeehaw_tf/...).")
    batch_size: int = option(64, "Global batch size (split across replicas).")
    train_steps: int | None = option(None, "Total training steps (overrides --epochs).")
    optimizer: str = option(
        "adam",
        "sgd (plain), momentum (0.9), nesterov (0.9), adagrad, rmsprop, adam, adamw "
        "(needs --weight_decay).",
        lambda: list(OPTIMIZERS),
    )
    learning_rate: float = option(3e-3, "Peak learning rate.")
    lr_schedule: str = option(
        "cosine",
        "constant; step (x --lr_decay_factor at each of --lr_boundaries); exponential and "
        "inverse (--lr_decay_rate per --lr_decay_steps); inverse_sqrt (needs --warmup_steps); "
        "linear and cosine (to --end_learning_rate at the last step).",
        lambda: list(SCHEDULES),
    )
    lr_boundaries: tuple[int, ...] = option((), "Steps where lr_schedule=step decays, increasing.")
    lr_decay_factor: float = option(0.1, "lr_schedule=step: multiplier at each boundary.")
    lr_decay_steps: int | None = option(
        None, "exponential/inverse: the step scale (default: a tenth of the run)."
    )
    lr_decay_rate: float = option(0.5, "exponential/inverse: the decay rate.")
    end_learning_rate: float = option(0.0, "linear/cosine: the final learning rate.")
    warmup_steps: int | None = option(
        None,
        "Linear warm-up from 0 before the schedule (inverse_sqrt: its own). Default: the "
        "task's (none; detection: the first tenth of the run).",
    )
    momentum: float | None = option(None, "Momentum for sgd/momentum/nesterov/rmsprop only.")
    weight_decay: float = option(
        0.0,
        "Decoupled weight decay applied by the optimizer (not to biases or normalisation "
        "parameters).",
    )
    clipnorm: float | None = option(None, "Clip each gradient to this norm.")
    global_clipnorm: float | None = option(None, "Clip all gradients together to this global norm.")
    checkpoint_every: int = option(200, "Save a checkpoint every N steps.")
    steps_per_loop: int = option(50, "Steps per compiled loop call between log lines.")
    seed: int = option(
        0, "Seed for Python, NumPy, TensorFlow, the data order and the step's randomness."
    )
    deterministic: bool = option(
        False, "Deterministic TF ops (bit-identical reruns and resumes; slower)."
    )
    loop: str = option("custom", "custom: our tf.function loop; fit: Keras fit.", LOOPS)
    num_cpu_devices: int = option(
        1, "Split the CPU into N logical devices and train with MirroredStrategy."
    )
    mixed_precision: str = option("none", "Mixed-precision compute dtype.", MIXED_PRECISION)
    jit_compile: bool | None = option(
        None, "XLA-compile the step (default: on with a GPU, off on CPU where it is slower)."
    )
    on_nan: str = option(
        "raise",
        "A step whose loss or a gradient is NaN/Inf: raise (stop, naming the step and the "
        "tensor; the last checkpoint stays) or skip_step (leave the weights as they were, count "
        "it, go on).",
        ON_NAN,
    )
    export: bool = option(True, "Export SavedModel and TFLite after training.")
    formats: tuple[str, ...] = option(FORMATS, "Export formats.", FORMATS)
    quantize: tuple[str, ...] = option(QUANTIZATIONS, "TFLite variants.", QUANTIZATIONS)

    def __post_init__(self):
        task = get_task(self.task)
        if self.options is None:
            object.__setattr__(self, "options", task.Options())
        if not isinstance(self.options, task.Options):
            raise ValueError(
                f"options for task {self.task!r} must be {task.Options.__name__}, got "
                f"{type(self.options).__name__}"
            )
        _choice("loop", self.loop, LOOPS)
        _choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _choice("on_nan", self.on_nan, ON_NAN)
        for name in ("batch_size", "checkpoint_every", "steps_per_loop", "num_cpu_devices"):
            _positive(name, getattr(self, name))
        if self.train_steps is not None:
            _positive("train_steps", self.train_steps)
        _positive("epochs", self.options.epochs)
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or not 0 <= self.seed < 2**32
        ):
            raise ValueError(f"seed must be an integer in [0, 2**32), got {self.seed!r}")
        for value in self.formats:
            _choice("formats", value, FORMATS)
        for value in self.quantize:
            _choice("quantize", value, QUANTIZATIONS)
        if self.export and not self.formats:
            raise ValueError(f"formats must name at least one of {', '.join(FORMATS)}")
        if self.export and "tflite" in self.formats and not self.quantize:
            raise ValueError(
                f"quantize must name at least one of {', '.join(QUANTIZATIONS)} for tflite"
            )
        if self.jit_compile and self.num_cpu_devices > 1:
            raise ValueError(
                "jit_compile cannot be used with num_cpu_devices > 1 (the compiled step cannot "
                "hold synchronized batch norm's cross-replica all-reduce)"
            )
        # The schedule is plain Python and is built to validate it (the warm-up is checked again
        # against the real number of steps once the dataset size is known); the optimizer is
        # only checked: building one creates TF variables, which must wait for the strategy.
        # (epochs: the length is not known yet, nor the task's default warm-up, a share of it)
        self.schedule(total_steps=self.train_steps or 2**31 - 1, task_warmup=False)
        check_optimizer_options(
            self.optimizer, self.momentum, self.weight_decay, self.clipnorm, self.global_clipnorm
        )
        if not self.workdir:
            raise ValueError("workdir must be a non-empty path")

    # ----------------------------------------------------------------------------- shortcuts
    @property
    def model(self) -> str:
        return self.options.model

    @property
    def dataset(self) -> str:
        return self.options.dataset

    def warmup(self, total_steps: int) -> int:
        """The warm-up steps of a run of ``total_steps``: ``warmup_steps``, or when it is not
        given the task's :meth:`~yeehaw_tf.training.tasks.Task.default_warmup_steps`."""
        if self.warmup_steps is not None:
            return self.warmup_steps
        return get_task(self.task).default_warmup_steps(total_steps)

    def schedule(self, total_steps: int, task_warmup: bool = True):
        """The learning-rate schedule these options describe, over ``total_steps``
        (``task_warmup=False``: without the task's default warm-up, to check the options)."""
        warmup = self.warmup(total_steps) if task_warmup else self.warmup_steps or 0
        return make_schedule(
            self.lr_schedule,
            self.learning_rate,
            total_steps,
            boundaries=self.lr_boundaries,
            decay_factor=self.lr_decay_factor,
            decay_steps=self.lr_decay_steps,
            decay_rate=self.lr_decay_rate,
            end_learning_rate=self.end_learning_rate,
            warmup_steps=warmup,
        )

    def build_optimizer(self, total_steps: int):
        """The optimizer and learning-rate schedule these options describe."""
        return make_optimizer(
            self.optimizer,
            self.schedule(total_steps),
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            clipnorm=self.clipnorm,
            global_clipnorm=self.global_clipnorm,
        )

    def total_steps(self, num_train: int) -> int:
        steps_per_epoch = num_train // self.batch_size
        if steps_per_epoch < 1:  # every batch would repeat examples
            raise ValueError(
                f"batch_size {self.batch_size} is larger than the training split "
                f"({num_train} examples)"
            )
        if self.train_steps is not None:
            return self.train_steps
        return self.options.epochs * steps_per_epoch

    def to_dict(self) -> dict:
        """The common fields and, flat beside them, the task's options (JSON-friendly)."""
        common = {f.name: getattr(self, f.name) for f in common_fields()}
        return {**common, **self.options.to_dict()}


def common_fields() -> list[dataclasses.Field]:
    """TrainConfig's fields other than ``options``."""
    return [f for f in dataclasses.fields(TrainConfig) if f.name != "options"]


def make_config(**values) -> TrainConfig:
    """A :class:`TrainConfig` from flat keyword arguments: common fields and the options of the
    chosen ``task`` (default ``DEFAULT_TASK``) side by side, as ``train.py``'s flags give them.
    An option the task does not have is refused, naming the option and the task (and the tasks
    that have it)."""
    task_name = values.get("task", DEFAULT_TASK)
    options_type = get_task(task_name).Options
    common = {f.name for f in common_fields()}
    own = {f.name for f in dataclasses.fields(options_type)}
    for name in values:
        if name in common or name in own:
            continue
        others = [
            t
            for t, cls in TASKS.items()
            if name in {f.name for f in dataclasses.fields(cls.Options)}
        ]
        if others:
            raise ValueError(
                f"option {name!r} does not apply to task {task_name!r} (it is an option of "
                f"task{'s' if len(others) > 1 else ''} {', '.join(others)})"
            )
        raise ValueError(f"unknown option {name!r}")
    options = options_type(**{k: v for k, v in values.items() if k in own})
    return TrainConfig(**{k: v for k, v in values.items() if k in common}, options=options)


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def _positive(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
