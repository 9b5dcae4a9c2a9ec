"""Serving specs: what an export writes and how each exported file is held to the Keras model.

A :class:`ServingSpec` names the input signature (by default uint8 images of the dataset's
native shape), the serving function (Keras model plus any post-processing, returning a dict of
tensors: probabilities/classes, per-pixel classes, boxes/scores/classes/num_detections,
generated images ...), the evaluation inputs on which the reference outputs are computed by the
Keras model, and the parity check per output. :func:`yeehaw_tf.export.exporter.export_spec`
writes every format from it through one path (atomic staging, ``report.json``, builtin-ops check,
LiteRT run). A task builds its spec (``Task.serving_spec``); :func:`probabilities_spec` is the
one classifiers and segmenters share.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.metrics.segmentation import mean_iou_from_confusion

# Every format an export can check, in the order they are written.
FORMAT_NAMES = ("saved_model", "float32", "float16", "dynamic", "int8")


@dataclasses.dataclass(frozen=True)
class OutputCheck:
    """How one output of every exported file is compared with the Keras model's.

    ``max_abs_diff`` maps a format name (``saved_model``, ``float32``, ``float16``, ``dynamic``,
    ``int8``) to the largest allowed absolute difference; a format missing from it (or mapped to
    ``None``) has the difference reported but is judged by the spec's scores alone.
    """

    max_abs_diff: Mapping[str, float | None]

    def __post_init__(self):
        unknown = sorted(set(self.max_abs_diff) - set(FORMAT_NAMES))
        if unknown:
            raise ValueError(
                f"OutputCheck: max_abs_diff names unknown formats {unknown}; valid: "
                f"{', '.join(FORMAT_NAMES)}"
            )

    def limit(self, format_name: str) -> float | None:
        return self.max_abs_diff.get(format_name)


@dataclasses.dataclass(frozen=True)
class Signature:
    """A further SavedModel signature beside ``serving_default`` (SavedModel only: TFLite holds
    the default one), e.g. a generator's ``generate(num_images, seed)`` or a diffusion model's
    whole sampling loop.

    Attributes:
        inputs: its named inputs (scalars allowed: ``tf.TensorSpec([], tf.int32)``).
        serve: ``serve(**inputs) -> {name: tensor}``, traced on the spec's model.
        examples: calls to check, each a dict of inputs (NumPy, the signature's dtypes): the
            loaded SavedModel's outputs are compared with ``serve``'s on the Keras model.
        max_abs_diff: the largest allowed absolute difference of any output.
    """

    inputs: Mapping[str, tf.TensorSpec]
    serve: Callable[..., Mapping[str, tf.Tensor]]
    examples: tuple[Mapping[str, np.ndarray], ...]
    max_abs_diff: float = 0.0

    def __post_init__(self):
        for call in self.examples:
            if set(call) != set(self.inputs):
                raise ValueError(
                    f"Signature: each example must name the inputs {sorted(self.inputs)}, got "
                    f"{sorted(call)}"
                )


@dataclasses.dataclass(frozen=True)
class ServingSpec:
    """Everything export needs for one model.

    Attributes:
        model: the Keras model the SavedModel tracks (its variables are saved).
        inputs: the signature's named inputs (``tf.TensorSpec`` with a ``None`` batch).
        serve: ``serve(**inputs) -> {name: tensor}``, traced on ``model``; every output has the
            batch as its first axis. An empty batch returns empty outputs (the exporter pads it).
        examples: evaluation inputs by name (NumPy, the signature's dtypes), on which the Keras
            reference and every exported file are run.
        representative: calibration inputs by name for int8 (a few hundred examples).
        checks: the parity check per output name (outputs without one are only written).
        score: ``score(outputs) -> {metric: value}`` for any format's outputs (accuracy, mean
            IoU, AP ...); ``max_drop`` bounds each metric's drop from the Keras value.
        consistent: ``consistent(outputs) -> bool``, a property every format's outputs must
            have (e.g. ``classes == argmax(probabilities)``).
        primary: the output whose difference the summary table shows.
        compare: ``compare(format_name, outputs, reference) -> (row entries, passed)``, a
            check beyond element-wise differences (a detector's detections matched by IoU).
        int8_float_ops: TFLite op types kept in float32 in the int8 file (a detector's box
            decoding and scores: 8 bits cannot hold pixel coordinates and tiny deltas at once).
        metadata: JSON-friendly facts written to ``metadata.json`` beside the exports (labels,
            input size), so a serving tool needs only the export directory.
        signatures: further SavedModel signatures by name (:class:`Signature`), each checked
            against the Keras model after export.
        batch_size: examples per call when export runs the Keras model and each file on
            ``examples`` (a model that is large per example sets fewer: R-CNN runs its CNN once
            per proposal, 100 per image).
    """

    model: keras.Model
    inputs: Mapping[str, tf.TensorSpec]
    serve: Callable[..., Mapping[str, tf.Tensor]]
    examples: Mapping[str, np.ndarray]
    representative: Mapping[str, np.ndarray]
    checks: Mapping[str, OutputCheck]
    score: Callable[[Mapping[str, np.ndarray]], Mapping[str, float]] | None = None
    max_drop: Mapping[str, float] = dataclasses.field(default_factory=dict)
    consistent: Callable[[Mapping[str, np.ndarray]], bool] | None = None
    primary: str | None = None
    compare: Callable[[str, Mapping, Mapping], tuple[dict, bool]] | None = None
    int8_float_ops: tuple[str, ...] = ()
    metadata: Mapping = dataclasses.field(default_factory=dict)
    signatures: Mapping[str, Signature] = dataclasses.field(default_factory=dict)
    batch_size: int = 256

    def __post_init__(self):
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or (self.batch_size < 1)
        ):
            raise ValueError(
                f"ServingSpec: batch_size must be a positive int, got {self.batch_size!r}"
            )
        if "serving_default" in self.signatures:
            raise ValueError("ServingSpec: signatures cannot replace 'serving_default'")
        if set(self.examples) != set(self.inputs):
            raise ValueError(
                f"ServingSpec: examples must name the inputs {sorted(self.inputs)}, got "
                f"{sorted(self.examples)}"
            )
        for name, spec in self.inputs.items():
            array = np.asarray(self.examples[name])
            if tf.as_dtype(array.dtype) != spec.dtype or not spec.shape.is_compatible_with(
                array.shape
            ):
                raise ValueError(
                    f"ServingSpec: examples[{name!r}] must be {spec.dtype.name} "
                    f"{spec.shape.as_list()}, got {array.dtype} {list(array.shape)}"
                )
        if self.primary is not None and self.primary not in self.checks:
            raise ValueError(f"ServingSpec: primary {self.primary!r} has no check")
        unknown = sorted(set(self.max_drop) - {"parameters"})
        if unknown and self.score is None:
            raise ValueError(f"ServingSpec: max_drop {unknown} needs a score function")


# Largest allowed |p_export - p_keras| over all probabilities; None: judged by accuracy alone.
PROBABILITY_LIMITS = {"saved_model": 1e-5, "float32": 1e-5, "float16": 1e-2}
# For per-pixel probabilities the maximum runs over every pixel of every image (13M for the
# shapes test split), so a few boundary pixels decide it: float16 weights move some by ~0.07
# with no pixel changing class. Float16 is judged by pixel accuracy and mean IoU instead.
PER_PIXEL_PROBABILITY_LIMITS = {"saved_model": 1e-5, "float32": 1e-4}
# Largest allowed accuracy (or pixel accuracy) and mean-IoU drop, absolute (0.01 = one point).
MAX_ACCURACY_DROP = 0.01
MAX_MEAN_IOU_DROP = 0.01


def image_input(image_shape) -> dict[str, tf.TensorSpec]:
    """The default signature: uint8 ``images [batch, H, W, C]``."""
    return {"images": tf.TensorSpec([None, *image_shape], tf.uint8, name="images")}


def softmax_serving(model: keras.Model) -> Callable[..., dict[str, tf.Tensor]]:
    """``images uint8 -> probabilities`` (softmax over the last axis of the model's logits)
    and ``classes`` (their argmax, int64)."""

    def serve(images):
        logits = model(tf.cast(images, tf.float32), training=False)
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        return {
            "probabilities": probabilities,
            "classes": tf.argmax(probabilities, axis=-1, output_type=tf.int64),
        }

    return serve


def mean_iou(classes: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """Mean IoU of predicted class maps against labels (the formula of
    :func:`yeehaw_tf.metrics.segmentation.mean_iou_from_confusion`)."""
    confusion = np.bincount(
        labels.astype(np.int64).ravel() * num_classes + classes.astype(np.int64).ravel(),
        minlength=num_classes**2,
    ).reshape(num_classes, num_classes)
    return float(mean_iou_from_confusion(confusion))


def probabilities_spec(
    model: keras.Model,
    *,
    images: np.ndarray,
    labels: np.ndarray,
    representative_images: np.ndarray,
    num_classes: int | None = None,
    metadata: Mapping | None = None,
) -> ServingSpec:
    """The spec of a model from float pixels (0..255) to logits ``[N, classes]`` (a classifier)
    or ``[N, H, W, classes]`` (a segmenter): ``probabilities`` and ``classes`` outputs, checked
    per probability, with accuracy (per image or per pixel; for class maps also mean IoU) not to
    drop by more than a point.

    Args:
        images: uint8 evaluation images ``[N, H, W, C]`` (the test split).
        labels: their integer labels ``[N]``, or class maps ``[N, H, W]``.
        representative_images: uint8 training images to calibrate int8.
        num_classes: the model's classes (checked against ``labels``); ``None``: read from the
            model's output shape.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 [N, H, W, C], got {images.dtype} {images.shape}")
    labels = np.asarray(labels)
    if labels.shape not in ((len(images),), images.shape[:3]):
        raise ValueError(
            f"labels must have shape ({len(images)},) (classes) or {images.shape[:3]} (class "
            f"maps), got {labels.shape}"
        )
    num_classes = num_classes or int(model.outputs[0].shape[-1])
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}) (the model's classes), got values from "
            f"{labels.min()} to {labels.max()}"
        )
    per_pixel = labels.ndim == 3

    def score(outputs):
        scores = {"accuracy": float(np.mean(outputs["classes"] == labels))}
        if per_pixel:
            scores["mean_iou"] = mean_iou(outputs["classes"], labels, num_classes)
        return scores

    def consistent(outputs):
        return bool(np.all(outputs["classes"] == np.argmax(outputs["probabilities"], axis=-1)))

    limits = PER_PIXEL_PROBABILITY_LIMITS if per_pixel else PROBABILITY_LIMITS
    drops = {"accuracy": MAX_ACCURACY_DROP}
    if per_pixel:
        drops["mean_iou"] = MAX_MEAN_IOU_DROP
    return ServingSpec(
        model=model,
        inputs=image_input(images.shape[1:]),
        serve=softmax_serving(model),
        examples={"images": images},
        representative={"images": np.asarray(representative_images)},
        checks={"probabilities": OutputCheck(limits)},
        score=score,
        max_drop=drops,
        consistent=consistent,
        primary="probabilities",
        metadata=dict(metadata or {}),
    )
