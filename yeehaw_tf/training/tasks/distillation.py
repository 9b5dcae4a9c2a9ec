"""Knowledge distillation (Hinton et al. 2015): a classifier (the student) trained on the labels
and on the softened predictions of a trained, frozen classifier (the teacher).

The student is built, evaluated and exported exactly as by the classification task (this task
subclasses it); only the training loss differs (:class:`yeehaw_tf.losses.DistillationLoss`).
The teacher is loaded by :meth:`DistillationTask.from_data`, when a run starts, and lives on the
task, not among its models: no optimizer sees it, checkpoints and exports hold only the
student, and a finished run is read back (:func:`yeehaw_tf.training.runs.load_run`, export)
from its record without the teacher's file.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from yeehaw_tf.losses.distillation import DistillationLoss, check_alpha, check_temperature
from yeehaw_tf.models.registry import classifier_names
from yeehaw_tf.training.runs import load_model
from yeehaw_tf.training.tasks.base import LossOutput, TaskData
from yeehaw_tf.training.tasks.classification import ClassificationOptions, ClassificationTask
from yeehaw_tf.training.tasks.options import option

TEACHER_FLAG = "--teacher"


@dataclasses.dataclass(frozen=True)
class DistillationOptions(ClassificationOptions):
    """The classification options (for the student) plus the teacher, the temperature and the
    weight of the label term. ``temperature`` and ``alpha`` follow Hinton et al. on MNIST: for
    small students temperatures of 2.5 to 4 worked best, and "a considerably lower weight" on
    the hard-label term than on the soft one gave the best results. The default student,
    ``mlp`` (85k parameters, a quarter of ``small_resnet``'s), is the one whose errors on
    ``digits`` distillation measurably cuts (docs/distillation.md); ``mlp_small`` (2.4k) is too
    small to fit the soft targets in the default 30 epochs."""

    model: str = option("mlp", "Student classifier to train.", classifier_names)
    teacher: str = option(
        "",
        "Required: the trained teacher, a classification run's workdir or a .keras file (a "
        "model from float pixels 0..255 to logits); used for training only.",
    )
    temperature: float = option(4.0, "Softmax temperature T > 0 of the soft-target term.")
    alpha: float = option(
        0.1, "Weight in [0, 1] of the label cross-entropy; 1 - alpha weighs the soft targets."
    )

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.teacher, str) or not self.teacher:
            raise ValueError(
                f"the distillation task needs a teacher: pass {TEACHER_FLAG}=<workdir of a "
                "trained classification run, or a .keras file>"
            )
        check_temperature(self.temperature)
        check_alpha(self.alpha)
        for name, value, default in (
            ("loss", self.loss, "cross_entropy"),
            ("label_smoothing", self.label_smoothing, 0.0),
            ("aux_logits", self.aux_logits, False),
            ("adversarial_training", self.adversarial_training, "none"),
        ):
            if value != default:
                raise ValueError(
                    f"{name}={value!r} does not apply to the distillation task (its label term "
                    "is plain cross-entropy on the student's one output)"
                )


def check_teacher(teacher: keras.Model, input_shape, num_classes: int, where: str) -> None:
    """Refuses a teacher whose input or classes differ from the student's dataset, naming
    both shapes."""
    taken = tuple(teacher.inputs[0].shape[1:]) if len(teacher.inputs) == 1 else None
    predicted = tuple(teacher.outputs[0].shape[1:]) if len(teacher.outputs) == 1 else None
    expected_in, expected_out = tuple(input_shape), (int(num_classes),)
    fits_in = taken is not None and len(taken) == len(expected_in)
    fits_in = fits_in and all(a in (None, b) for a, b in zip(taken, expected_in, strict=True))
    if not fits_in or predicted != expected_out:
        raise ValueError(
            f"{TEACHER_FLAG} {where}: the teacher maps images {taken} to logits {predicted}, "
            f"but the student's dataset has images {expected_in} and {num_classes} classes "
            f"(logits {expected_out}); distil from a teacher trained on the same dataset"
        )


class DistillationTask(ClassificationTask):
    """Trains a classifier on ``alpha * CE(labels) + (1 - alpha) * T^2 * KL(teacher || student)``
    (at temperature ``T``); evaluation reports the student's plain cross-entropy and accuracy
    (comparable with a classification run's, and needing no teacher), and the student exports
    as a classifier.
    """

    name = "distillation"
    Options = DistillationOptions
    # The frozen teacher (set by from_data or set_teacher); None for a task read from a record.
    teacher: keras.Model | None = None

    @classmethod
    def from_data(cls, options: DistillationOptions, data: TaskData) -> DistillationTask:
        task = super().from_data(options, data)
        task.set_teacher(load_model(options.teacher, what=TEACHER_FLAG))
        return task

    def set_teacher(self, teacher: keras.Model) -> None:
        """Uses ``teacher`` (checked against the dataset, then frozen) for training."""
        check_teacher(teacher, self.input_shape, self.num_classes, self.options.teacher)
        teacher.trainable = False
        self.teacher = teacher

    def compute_loss(self, models, batch, training: bool, ctx) -> LossOutput:
        if not training:  # the student's cross-entropy on the labels, as classification's
            return super().compute_loss(models, batch, training, ctx)
        if self.teacher is None:
            raise ValueError(
                "the distillation task has no teacher to train with (a task read back from a "
                f"run record has none): make it with from_data ({TEACHER_FLAG}) or set_teacher"
            )
        images, labels = batch
        student = models["model"](images, training=True)
        teacher = self.teacher(images, training=False)
        loss = DistillationLoss(self.options.temperature, self.options.alpha, reduction=None)
        losses = loss({"labels": labels, "teacher_logits": teacher}, student)
        return LossOutput(total=tf.reduce_sum(tf.cast(losses, tf.float32)), outputs=student)

    def serving_spec(self, model: keras.Model, data: TaskData):
        """Classification's: the student serves (and ``predict`` reads it) as a classifier."""
        spec = super().serving_spec(model, data)
        metadata = {
            **spec.metadata,
            "task": ClassificationTask.name,
            "distilled_from": self.options.teacher,
        }
        return dataclasses.replace(spec, metadata=metadata)

    def summary_rows(self, evaluation) -> list[tuple[str, str]]:
        return [*super().summary_rows(evaluation), ("teacher", self.options.teacher)]
