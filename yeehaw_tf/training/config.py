"""Run configuration: a small data object, validated on construction."""

from __future__ import annotations

import dataclasses

from yeehaw_tf.data.datasets import validate_dataset_name
from yeehaw_tf.export.classifier import FORMATS
from yeehaw_tf.export.tflite import QUANTIZATIONS
from yeehaw_tf.models.registry import get_classifier, get_segmenter
from yeehaw_tf.optimizers import check_optimizer_options, make_optimizer, make_schedule
from yeehaw_tf.training.tasks import validate_task_name
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
    """Everything a run needs. ``train.py``'s flags map one to one onto these fields.

    ``train_steps`` wins over ``epochs``; an epoch is ``num_train // batch_size`` steps (the
    last partial batch is dropped so that every step sees a full global batch).
    """

    workdir: str
    task: str = "classification"
    model: str = "small_resnet"
    dataset: str = "digits"
    data_dir: str | None = None
    batch_size: int = 64
    train_steps: int | None = None
    epochs: int = 30
    optimizer: str = "adam"
    learning_rate: float = 3e-3
    checkpoint_every: int = 200
    steps_per_loop: int = 50
    seed: int = 0
    deterministic: bool = False
    loop: str = "custom"
    num_cpu_devices: int = 1
    mixed_precision: str = "none"
    jit_compile: bool | None = None
    activation: str = "relu"
    norm: str = "batch"
    dropout: float = 0.0
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    lr_boundaries: tuple[int, ...] = ()
    lr_decay_factor: float = 0.1
    lr_decay_steps: int | None = None
    lr_decay_rate: float = 0.5
    end_learning_rate: float = 0.0
    warmup_steps: int = 0
    momentum: float | None = None
    clipnorm: float | None = None
    global_clipnorm: float | None = None
    l1: float = 0.0
    l2: float = 0.0
    image_size: tuple[int, int] | None = None
    aux_logits: bool = False
    base_filters: int | None = None
    on_nan: str = "raise"
    export: bool = True
    formats: tuple[str, ...] = FORMATS
    quantize: tuple[str, ...] = QUANTIZATIONS

    def __post_init__(self):
        validate_task_name(self.task)
        (get_segmenter if self.task == "segmentation" else get_classifier)(self.model)
        validate_dataset_name(self.dataset)
        _choice("loop", self.loop, LOOPS)
        _choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _choice("on_nan", self.on_nan, ON_NAN)
        if self.on_nan == "skip_step" and self.loop == "fit":
            raise ValueError("on_nan=skip_step needs the custom loop (--loop=custom)")
        for name in (
            "batch_size",
            "epochs",
            "checkpoint_every",
            "steps_per_loop",
            "num_cpu_devices",
        ):
            _positive(name, getattr(self, name))
        if self.train_steps is not None:
            _positive("train_steps", self.train_steps)
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
        self.schedule(total_steps=self.train_steps or 2**31 - 1)  # epochs: length not known yet
        check_optimizer_options(
            self.optimizer, self.momentum, self.weight_decay, self.clipnorm, self.global_clipnorm
        )
        self.task_options()  # model and loss choices are validated by the task
        if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) < 1):
            raise ValueError(f"image_size must be (height, width), got {self.image_size}")
        if not self.workdir:
            raise ValueError("workdir must be a non-empty path")

    def task_options(self) -> dict:
        """The task's keyword arguments chosen by this configuration (validated)."""
        from yeehaw_tf.training.tasks.classification import ClassificationTask
        from yeehaw_tf.training.tasks.segmentation import SegmentationTask

        if self.task == "segmentation":
            defaults = {
                "activation": "relu",
                "norm": "batch",
                "loss": "cross_entropy",
                "label_smoothing": 0.0,
                "aux_logits": False,
            }
            for name, default in defaults.items():
                if getattr(self, name) != default:
                    raise ValueError(f"{name} applies to the classification task only")
            options = {
                "dropout": self.dropout,
                "l1": self.l1,
                "l2": self.l2,
                "base_filters": self.base_filters,
            }
            SegmentationTask(self.model, 2, (64, 64, 3), (0.0,) * 3, (1.0,) * 3, **options)
            return options
        if self.base_filters is not None:
            raise ValueError("base_filters applies to segmentation models only")
        options = {
            "activation": self.activation,
            "norm": self.norm,
            "dropout": self.dropout,
            "l1": self.l1,
            "l2": self.l2,
            "loss_name": self.loss,
            "label_smoothing": self.label_smoothing,
            "image_size": self.image_size,
            "aux_logits": self.aux_logits,
        }
        ClassificationTask(self.model, 1, (8, 8, 1), (0.0,), (1.0,), **options)
        return options

    def schedule(self, total_steps: int):
        """The learning-rate schedule these options describe, over ``total_steps``."""
        return make_schedule(
            self.lr_schedule,
            self.learning_rate,
            total_steps,
            boundaries=self.lr_boundaries,
            decay_factor=self.lr_decay_factor,
            decay_steps=self.lr_decay_steps,
            decay_rate=self.lr_decay_rate,
            end_learning_rate=self.end_learning_rate,
            warmup_steps=self.warmup_steps,
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
        return self.epochs * steps_per_epoch

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def _positive(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
