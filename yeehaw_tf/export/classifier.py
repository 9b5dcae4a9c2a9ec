"""Export a classifier or a segmenter to every format and prove each one against the Keras model.

Both map uint8 images to ``probabilities`` over the last axis and ``classes`` (their argmax):
``[N, classes]`` / ``[N]`` for a classifier, ``[N, H, W, classes]`` / ``[N, H, W]`` per pixel for
a segmenter. Accuracy is per image or per pixel; segmenters also get their mean IoU reported.

Writes, atomically, into ``export_dir``:

- ``saved_model/``: the serving SavedModel (see :mod:`yeehaw_tf.export.saved_model`);
- ``model_<quantization>.tflite`` for each requested quantization;
- ``report.json``: per format, file size, the largest absolute difference of its probabilities
  from the Keras model's on the evaluation images, its accuracy, its limits and whether it met
  them.

If any format misses its limit the export fails and ``export_dir`` keeps what it had before.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.atomic import atomic_directory
from yeehaw_tf.export.saved_model import ServingModel, export_classifier_saved_model
from yeehaw_tf.export.tflite import (
    QUANTIZATIONS,
    TFLiteModel,
    check_builtin_ops,
    convert_saved_model,
)
from yeehaw_tf.metrics.segmentation import mean_iou_from_confusion

FORMATS = ("saved_model", "tflite")
# Largest allowed |p_export - p_keras| over all probabilities; None: judged by accuracy alone.
MAX_ABS_DIFF = {
    "saved_model": 1e-5,
    "float32": 1e-5,
    "float16": 1e-2,
    "dynamic": None,
    "int8": None,
}
# For segmenters the maximum runs over every pixel of every image (13M probabilities for the
# shapes test split), so a few boundary pixels decide it: float16 weights move some by ~0.07
# with no pixel changing class. Float16 is judged by pixel accuracy and mean IoU instead.
MAX_ABS_DIFF_PER_PIXEL = {**MAX_ABS_DIFF, "float32": 1e-4, "float16": None}
# Largest allowed accuracy (or pixel accuracy) drop, absolute (0.01 = one point), and largest
# mean-IoU drop for segmenters, from the Keras model.
MAX_ACCURACY_DROP = 0.01
MAX_MEAN_IOU_DROP = 0.01


class ExportCheckError(RuntimeError):
    """An exported model does not reproduce the Keras model within its limits.

    ``report`` holds the full per-format report (what would have been report.json).
    """

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
    )


def _batched(fn, images: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    parts = [fn(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}


def keras_probabilities(
    model: keras.Model, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Softmax of the model's logits on uint8 images, the reference every export is held to."""
    predict = tf.function(lambda x: tf.nn.softmax(tf.cast(model(x, training=False), tf.float32)))
    return _batched(lambda x: {"p": predict(tf.cast(x, tf.float32))}, images, batch_size)["p"]


def mean_iou(classes: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """Mean IoU of predicted class maps against labels (the formula of
    :func:`yeehaw_tf.metrics.segmentation.mean_iou_from_confusion`)."""
    confusion = np.bincount(
        labels.astype(np.int64).ravel() * num_classes + classes.astype(np.int64).ravel(),
        minlength=num_classes**2,
    ).reshape(num_classes, num_classes)
    return float(mean_iou_from_confusion(confusion))


def _check(name, outputs, reference, labels, keras_row, extra) -> dict:
    probabilities = outputs["probabilities"]
    accuracy = float(np.mean(outputs["classes"] == labels))
    per_pixel = labels.ndim == 3
    limit = (MAX_ABS_DIFF_PER_PIXEL if per_pixel else MAX_ABS_DIFF)[name]
    max_diff = float(np.max(np.abs(probabilities - reference)))
    passed = (
        (limit is None or max_diff <= limit)
        and (keras_row["accuracy"] - accuracy <= MAX_ACCURACY_DROP)
        and bool(np.all(outputs["classes"] == np.argmax(probabilities, axis=-1)))
    )
    if per_pixel:
        iou = mean_iou(outputs["classes"], labels, reference.shape[-1])
        extra = {**extra, "mean_iou": iou, "max_mean_iou_drop": MAX_MEAN_IOU_DROP}
        passed = passed and keras_row["mean_iou"] - iou <= MAX_MEAN_IOU_DROP
    return {
        **extra,
        "max_abs_diff": max_diff,
        "max_abs_diff_limit": limit,
        "accuracy": accuracy,
        "max_accuracy_drop": MAX_ACCURACY_DROP,
        "passed": bool(passed),
    }


def export_model(
    model: keras.Model,
    export_dir: str,
    *,
    images: np.ndarray,
    labels: np.ndarray,
    representative_images: np.ndarray,
    formats: Sequence[str] = FORMATS,
    quantizations: Sequence[str] = QUANTIZATIONS,
    batch_size: int = 256,
) -> dict:
    """Exports ``model`` and checks every file against it on ``images``/``labels``.

    Args:
        model: float pixels (0..255) -> logits ``[N, classes]`` or ``[N, H, W, classes]``.
        export_dir: the directory to (re)place.
        images: uint8 evaluation images ``[N, H, W, C]`` (the test split).
        labels: their integer labels ``[N]``, or class maps ``[N, H, W]`` for a segmenter.
        representative_images: uint8 images from the training split, to calibrate int8.
        formats: any of ``saved_model``, ``tflite`` (TFLite is converted from the SavedModel,
            so it is always written when ``tflite`` is asked for).
        quantizations: TFLite variants, any of ``float32, float16, dynamic, int8``.

    Returns:
        The report (also written to ``export_dir/report.json``).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {list(formats)}")
    unknown = sorted(set(quantizations) - set(QUANTIZATIONS))
    if unknown or ("tflite" in formats and not quantizations):
        raise ValueError(
            f"quantizations must be a non-empty subset of {QUANTIZATIONS}, "
            f"got {list(quantizations)}"
        )
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 [N, H, W, C], got {images.dtype} {images.shape}")
    labels = np.asarray(labels)
    if labels.shape not in ((len(images),), images.shape[:3]):
        raise ValueError(
            f"labels must have shape ({len(images)},) (classes) or {images.shape[:3]} (class "
            f"maps), got {labels.shape}"
        )

    reference = keras_probabilities(model, images, batch_size)
    num_classes = reference.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}) (the model's classes), got values from "
            f"{labels.min()} to {labels.max()}"
        )
    reference_accuracy = float(np.mean(np.argmax(reference, axis=-1) == labels))
    keras_row = {"accuracy": reference_accuracy, "parameters": int(model.count_params())}
    if labels.ndim == 3:
        keras_row["mean_iou"] = mean_iou(np.argmax(reference, -1), labels, reference.shape[-1])
    report = {
        "num_examples": int(len(images)),
        "keras": keras_row,
        "formats": {},
    }
    with atomic_directory(export_dir) as staging:
        saved_model_dir = os.path.join(staging, "saved_model")
        export_classifier_saved_model(model, saved_model_dir, images.shape[1:])
        if "saved_model" in formats:
            serve = ServingModel(saved_model_dir)
            outputs = _batched(lambda x: serve(images=x), images, batch_size)
            report["formats"]["saved_model"] = _check(
                "saved_model",
                outputs,
                reference,
                labels,
                keras_row,
                {"file": "saved_model", "size_bytes": _size(saved_model_dir)},
            )
        if "tflite" in formats:
            for quantization in quantizations:
                content = convert_saved_model(saved_model_dir, quantization, representative_images)
                filename = f"model_{quantization}.tflite"
                with open(os.path.join(staging, filename), "wb") as f:
                    f.write(content)
                tflite = TFLiteModel(content)
                ops = check_builtin_ops(tflite, filename)
                outputs = _batched(lambda x, m=tflite: m(images=x), images, batch_size)
                report["formats"][quantization] = _check(
                    quantization,
                    outputs,
                    reference,
                    labels,
                    keras_row,
                    {"file": filename, "size_bytes": len(content), "ops": ops},
                )
        if "saved_model" not in formats:
            shutil.rmtree(saved_model_dir)  # only the source of the TFLite conversions
        with open(os.path.join(staging, "report.json"), "w") as f:
            json.dump(report, f, indent=2)
        failed = {k: v for k, v in report["formats"].items() if not v["passed"]}
        if failed:
            raise ExportCheckError(
                "exported models do not match the Keras model: "
                + json.dumps(failed, indent=2)
                + f"\n(reference accuracy {reference_accuracy:.4f}); nothing was written",
                report,
            )
    return report


export_classifier = export_model
export_segmenter = export_model
