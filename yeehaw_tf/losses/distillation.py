"""Knowledge distillation (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural
Network"): a student learns from the labels and from a teacher's softened class probabilities.

Per example, with student logits ``s``, teacher logits ``t``, label ``y``, temperature ``T``
and weight ``alpha``::

    alpha * CE(y, softmax(s)) + (1 - alpha) * T**2 * KL(softmax(t / T) || softmax(s / T))

A temperature above 1 softens both distributions, so the teacher's small probabilities for the
wrong classes (which "2"s look like "3"s) carry weight. The ``T**2`` keeps the soft term's
gradients on the scale of the hard term's whatever ``T``: its gradient with respect to ``s`` is
``T * (softmax(s / T) - softmax(t / T))``, which for a large ``T`` and zero-mean logits tends to
``(s - t) / N`` over ``N`` classes: matching logits (the paper's section 2.1, eq. 4). KL rather
than the cross-entropy with the soft targets: they differ by the teacher's entropy, a constant
with no gradient, and KL is 0 when the student matches the teacher.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from yeehaw_tf.losses.classification import SoftmaxCrossEntropy


def check_temperature(temperature: float) -> float:
    """``temperature`` as a float, refused unless a finite number > 0."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return float(temperature)


def check_alpha(alpha: float) -> float:
    """``alpha`` (the weight of the hard-label term) as a float, refused unless in [0, 1]."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0 <= alpha <= 1.0:
        raise ValueError(
            f"alpha must be in [0, 1] (the weight of the label cross-entropy; 1 - alpha weighs "
            f"the teacher's soft targets), got {alpha!r}"
        )
    return float(alpha)


def soft_target_loss(student_logits, teacher_logits, temperature: float):
    """``T**2 * KL(softmax(t / T) || softmax(s / T))`` per example, ``[batch]``.

    The teacher's logits are a target: no gradient flows into them.
    """
    temperature = check_temperature(temperature)
    student = ops.convert_to_tensor(student_logits)
    teacher = ops.stop_gradient(ops.cast(teacher_logits, student.dtype))
    if len(student.shape) != 2 or (
        None not in (student.shape[-1], teacher.shape[-1])
        and student.shape[-1] != teacher.shape[-1]
    ):
        raise ValueError(
            f"student logits {tuple(student.shape)} and teacher logits {tuple(teacher.shape)} "
            "must both be [batch, classes] with the same classes"
        )
    log_teacher = ops.log_softmax(teacher / temperature, axis=-1)
    log_student = ops.log_softmax(student / temperature, axis=-1)
    kl = ops.sum(ops.exp(log_teacher) * (log_teacher - log_student), axis=-1)
    return temperature**2 * kl


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class DistillationLoss(keras.losses.Loss):
    """Hinton et al.'s distillation loss (see the module docstring), one value per example.

    ``y_true`` is ``{"labels": int [batch], "teacher_logits": [batch, classes]}`` (what the
    student is taught); ``y_pred`` is the student's logits ``[batch, classes]``.

    Args:
        temperature: ``T`` > 0, the softmax temperature of the soft term.
        alpha: in [0, 1], the weight of the label cross-entropy; ``1 - alpha`` weighs the soft
            term. ``alpha=1`` is plain softmax cross-entropy.
    """

    def __init__(
        self,
        temperature: float,
        alpha: float,
        reduction="sum_over_batch_size",
        name="distillation",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.temperature = check_temperature(temperature)
        self.alpha = check_alpha(alpha)
        self._hard = SoftmaxCrossEntropy(reduction=None, dtype=self.dtype)

    def call(self, y_true, y_pred):
        if not isinstance(y_true, dict) or set(y_true) != {"labels", "teacher_logits"}:
            raise ValueError(
                "DistillationLoss: y_true must be {'labels': ..., 'teacher_logits': ...}, got "
                f"{sorted(y_true) if isinstance(y_true, dict) else type(y_true).__name__}"
            )
        student = ops.convert_to_tensor(y_pred)
        losses = []
        if self.alpha > 0:
            losses.append(self.alpha * self._hard(y_true["labels"], student))
        if self.alpha < 1:
            soft = soft_target_loss(student, y_true["teacher_logits"], self.temperature)
            losses.append((1.0 - self.alpha) * soft)
        return losses[0] if len(losses) == 1 else losses[0] + losses[1]

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "alpha": self.alpha}
