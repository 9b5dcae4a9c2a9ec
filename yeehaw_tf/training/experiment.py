"""A whole run: data, statistics, model, training (custom loop or fit), evaluation, export.

``train.py`` and ``python -m export`` are thin command-line faces over :func:`run_experiment`
and :func:`export_workdir`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from yeehaw_tf.atomic import atomic_write_text
from yeehaw_tf.data.datasets import default_data_dir, load_classification, load_segmentation
from yeehaw_tf.data.pipeline import (
    classification_pipeline,
    resize_images,
    segmentation_pipeline,
)
from yeehaw_tf.data.statistics import channel_mean_std
from yeehaw_tf.export.classifier import FORMATS, ExportCheckError, export_model
from yeehaw_tf.export.tflite import QUANTIZATIONS
from yeehaw_tf.training.config import RUN_OPTIONS, TrainConfig
from yeehaw_tf.training.strategy import cluster_workers, is_chief, make_strategy
from yeehaw_tf.training.tasks import ClassificationTask, SegmentationTask, task_from_dict
from yeehaw_tf.training.trainer import Trainer, describe_error

CONFIG_FILE = "config.json"
EVAL_BATCH_SIZE = 256
NUM_REPRESENTATIVE = 256


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seeds Python, NumPy and TensorFlow; ``deterministic`` also makes TF ops deterministic."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def dtype_policy(mixed_precision: str):
    """Sets Keras's global dtype policy for the duration of a run, then restores it."""
    previous = keras.mixed_precision.dtype_policy()
    name = {"none": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}
    keras.mixed_precision.set_dtype_policy(name[mixed_precision])
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def as_arrays(dataset: tf.data.Dataset, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8, labels int64)`` numpy arrays from a dataset of pairs (labels may be
    class maps)."""
    if limit is not None:
        dataset = dataset.take(limit)
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(image)
        labels.append(label)
    return np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """A task with its data: the pipelines and uint8 arrays the run and the export need."""

    task: object
    num_train: int
    pipeline: object  # (dataset, batch_size=, training=, seed=) -> batches
    train: tf.data.Dataset  # (image uint8, label) pairs
    test: tf.data.Dataset


def _check_writable(workdir: str) -> None:
    """Creates ``workdir`` if needed and proves it writable, before any work is done."""
    try:
        os.makedirs(workdir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=workdir, prefix=".write_probe_"):
            pass
    except OSError as e:
        raise ValueError(
            f"workdir {workdir} is not a writable directory ({e.strerror or e})"
        ) from None


@contextlib.contextmanager
def _dataset_errors(name: str, data_dir: str | None):
    """Turns a damaged dataset file, found while reading, into an error that says which dataset
    and how to repair it."""
    try:
        yield
    except tf.errors.DataLossError as e:
        directory = os.path.join(data_dir or default_data_dir(), name.split(":")[0])
        detail = e.message.strip().splitlines()[0]
        raise ValueError(
            f"dataset {name!r}: a file under {directory} is damaged ({detail}). Delete that "
            "directory to regenerate it (built-in datasets are generated offline) or to "
            "download it again."
        ) from None


def _check_splits(name: str, data_dir: str | None, num_train: int, num_test: int) -> None:
    for split, size in (("train", num_train), ("test", num_test)):
        if size == 0:
            where = data_dir or default_data_dir()
            raise ValueError(f"split {split!r} of dataset {name!r} in {where} is empty")


def _load(task_name: str, dataset: str, data_dir: str | None, image_size=None):
    """``(data, pipeline, input_shape)``: ``dataset``'s splits for ``task_name``, the function
    that batches them, and the image shape the model takes."""
    if task_name == "segmentation":
        data = load_segmentation(dataset, data_dir)
        size = tuple(image_size or data.image_shape[:2])
        if None in size:
            raise ValueError(
                f"dataset {dataset!r} has images of different sizes: choose one with --image_size"
            )
        pipeline = functools.partial(segmentation_pipeline, image_size=image_size)
        input_shape = (*size, data.image_shape[-1])
    else:
        data = load_classification(dataset, data_dir)
        pipeline, input_shape = classification_pipeline, data.image_shape
    _check_splits(dataset, data_dir, data.num_train, data.num_test)
    return data, pipeline, input_shape


def _prepare(task_name, dataset, data_dir, model: str, options: dict, image_size=None):
    """Loads ``dataset`` for ``task_name`` and builds the task, with the per-channel statistics
    of the training split's images as the model sees them."""
    data, pipeline, input_shape = _load(task_name, dataset, data_dir, image_size)
    images = data.train.map(
        lambda image, label: resize_images(image, image_size) if image_size else image
    )
    mean, std = channel_mean_std(images)
    common = {
        "model_name": model,
        "num_classes": data.num_classes,
        "input_shape": input_shape,
        "mean": tuple(mean.tolist()),
        "std": tuple(np.maximum(std, 1e-3).tolist()),
    }
    if task_name == "segmentation":
        task = SegmentationTask(**common, class_names=data.class_names, **options)
    else:
        task = ClassificationTask(**common, **options)
    return _Prepared(task, data.num_train, pipeline, data.train, data.test)


def _export_arrays(prepared: _Prepared):
    """uint8 test images and labels, and training images for int8 calibration, at model size."""
    size = prepared.task.input_shape[:2]

    def at_model_size(dataset):
        def resize(image, label):
            if tuple(image.shape[:2]) == tuple(size):
                return image, label
            image = tf.cast(tf.round(resize_images(image, size)), tf.uint8)
            label = tf.image.resize(label[..., None], size, method="nearest")[..., 0]
            return image, label

        return dataset.map(resize) if label_is_map(prepared) else dataset

    images, labels = as_arrays(at_model_size(prepared.test))
    representative, _ = as_arrays(at_model_size(prepared.train), NUM_REPRESENTATIVE)
    return images, labels, representative


def label_is_map(prepared: _Prepared) -> bool:
    return isinstance(prepared.task, SegmentationTask)


def _read_record(workdir: str) -> dict:
    path = os.path.join(workdir, CONFIG_FILE)
    try:
        with open(path) as f:
            record = json.load(f)
        record["train"], record["task"]  # noqa: B018 - the keys every record has
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a run record written by train.py ({e!r})") from None
    return record


def _check_workdir(workdir: str, config: TrainConfig, total_steps: int) -> None:
    """Refuses to resume a run whose checkpoints were made with another configuration."""
    if not os.path.exists(os.path.join(workdir, CONFIG_FILE)) or not tf.train.latest_checkpoint(
        os.path.join(workdir, "checkpoints")
    ):
        return  # nothing trained yet: the new configuration simply replaces the old one
    record = _read_record(workdir)
    previous = {**record["train"], "total_steps": record.get("total_steps")}
    current = json.loads(json.dumps({**config.to_dict(), "total_steps": total_steps}))
    changed = {k: (previous.get(k), v) for k, v in current.items() if k not in RUN_OPTIONS}
    changed = {k: v for k, v in changed.items() if v[0] != v[1]}
    if changed:
        details = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
        raise ValueError(
            f"workdir {workdir} holds a different run ({details}); resuming would mix them. "
            "(A different number of steps would also restart the learning-rate schedule.) "
            "Use another --workdir."
        )


def _float32_model(task, model: keras.Model) -> keras.Model:
    """The same weights in a float32 model (what we export after mixed-precision training)."""
    if keras.mixed_precision.dtype_policy().name == "float32":
        return model
    with dtype_policy("none"):
        clone = task.build_model()
    clone.set_weights(model.get_weights())
    return clone


def run_experiment(config: TrainConfig, verbose: int = 1) -> dict:
    """Trains ``config.model`` on ``config.dataset``, evaluates, exports; returns a summary.

    Re-running with the same workdir resumes from its latest checkpoint.
    """
    began = time.perf_counter()
    if config.loop == "fit" and cluster_workers() > 1:
        raise ValueError(
            "--loop=fit cannot run under MultiWorkerMirroredStrategy (Keras fit fails there, "
            "keras-team/keras#20585); use --loop=custom, which supports multi-worker training"
        )
    strategy = make_strategy(config.num_cpu_devices)
    chief = is_chief(strategy)
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(
            f"batch_size {config.batch_size} must be divisible by the number of replicas "
            f"({strategy.num_replicas_in_sync}): it is the global batch, split equally"
        )

    if chief:
        _check_writable(config.workdir)
    with _dataset_errors(config.dataset, config.data_dir):
        return _run(config, verbose, began, strategy, chief)


def _run(config: TrainConfig, verbose: int, began: float, strategy, chief: bool) -> dict:
    segmentation = config.task == "segmentation"
    prepared = _prepare(
        config.task,
        config.dataset,
        config.data_dir,
        config.model,
        config.task_options(),
        image_size=config.image_size if segmentation else None,
    )
    task = prepared.task
    total_steps = config.total_steps(prepared.num_train)
    config.schedule(total_steps)  # the schedule's options against the real run length
    _check_workdir(config.workdir, config, total_steps)

    # Seed after the data is ready: preparing a dataset in this process consumes Python's random
    # state, which Keras's default seeds are drawn from; the run must not depend on that.
    seed_everything(config.seed, config.deterministic)
    with dtype_policy(config.mixed_precision):
        trainer = Trainer(
            build_model=task.build_model,
            loss=task.loss(),
            build_metrics=task.metrics,
            build_optimizer=lambda: config.build_optimizer(total_steps),
            workdir=config.workdir,
            strategy=strategy,
            checkpoint_every=config.checkpoint_every,
            steps_per_loop=config.steps_per_loop,
            steps_per_epoch=max(1, prepared.num_train // config.batch_size),
            jit_compile=config.jit_compile,
            on_nan=config.on_nan,
        )
        # Written once everything that can refuse the configuration has accepted it, so a
        # refused run leaves an existing record as it was.
        if chief:
            record = {
                "train": config.to_dict(),
                "task": task.to_dict(),
                "total_steps": total_steps,
            }
            path = os.path.join(config.workdir, CONFIG_FILE)
            atomic_write_text(path, json.dumps(record, indent=2))
        train_ds = prepared.pipeline(
            prepared.train, batch_size=config.batch_size, training=True, seed=config.seed
        )
        test_ds = prepared.pipeline(prepared.test, batch_size=EVAL_BATCH_SIZE, training=False)
        train_began = time.perf_counter()
        drive = trainer.fit if config.loop == "fit" else trainer.train
        train_results = drive(train_ds, total_steps, verbose=verbose)
        train_seconds = time.perf_counter() - train_began
        evaluation = trainer.evaluate(test_ds)
        model = task.inference_model(_float32_model(task, trainer.model))

    summary = {
        "workdir": os.path.abspath(config.workdir),
        "steps": int(trainer.step.numpy()),
        "train": train_results,
        "test": evaluation,
        "parameters": int(model.count_params()),
        "train_seconds": train_seconds,
        "replicas": strategy.num_replicas_in_sync,
    }
    if chief and segmentation:
        summary["overlays"] = _write_overlays(prepared, model, config.workdir)
    if config.export and chief:
        images, labels, representative = _export_arrays(prepared)
        try:
            summary["export"] = export_model(
                model,
                os.path.join(config.workdir, "export"),
                images=images,
                labels=labels,
                representative_images=representative,
                formats=config.formats,
                quantizations=config.quantize,
            )
        except ExportCheckError as e:  # the run's results still reach the user, with the failure
            summary["export"], summary["export_error"] = e.report, str(e)
    if not chief:  # this worker's checkpoints were written only because saving is collective
        shutil.rmtree(os.path.dirname(trainer.checkpoint_dir), ignore_errors=True)
    summary["wall_seconds"] = time.perf_counter() - began
    logging.info("run summary: %s", json.dumps(summary, default=str))
    return summary


def export_workdir(
    workdir: str,
    checkpoint: str | None = None,
    formats=FORMATS,
    quantize=QUANTIZATIONS,
    data_dir: str | None = None,
) -> dict:
    """Re-exports a finished (or interrupted) run from its checkpoint.

    Raises ``FileNotFoundError`` before writing anything if the workdir has no run or no
    checkpoint.
    """
    config_path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"{workdir} holds no run: {config_path} does not exist")
    record = _read_record(workdir)
    checkpoint = checkpoint or tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    if checkpoint is None:
        raise FileNotFoundError(f"no checkpoint in {os.path.join(workdir, 'checkpoints')}")
    if not tf.io.gfile.exists(checkpoint + ".index"):
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    task = task_from_dict(record["task"])
    training_model = task.build_model()
    model = task.inference_model(training_model)
    try:
        status = tf.train.Checkpoint(model=training_model).restore(checkpoint).expect_partial()
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as e:
        raise ValueError(
            f"checkpoint {checkpoint} does not fit the model described by {config_path}: "
            f"{describe_error(e)}"
        ) from None
    train = record["train"]
    data, pipeline, _ = _load(
        record["task"].get("task", "classification"),
        train["dataset"],
        data_dir or train["data_dir"],
        image_size=train.get("image_size") if isinstance(task, SegmentationTask) else None,
    )
    # the recorded task (its statistics), not one measured again
    prepared = _Prepared(task, data.num_train, pipeline, data.train, data.test)
    images, labels, representative = _export_arrays(prepared)
    return export_model(
        model,
        os.path.join(workdir, "export"),
        images=images,
        labels=labels,
        representative_images=representative,
        formats=formats,
        quantizations=quantize,
    )


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.2f} MB" if size >= 1024 * 1024 else f"{size / 1024:.1f} KB"


def format_export_report(report: dict) -> str:
    lines = [
        f"  {'format':<12}{'file':<24}{'size':>10}{'max |dp|':>12}{'accuracy':>10}"
        f"{'mIoU':>8}  parity",
    ]
    for name, row in report["formats"].items():
        iou = f"{row['mean_iou']:>8.4f}" if "mean_iou" in row else f"{'':>8}"
        lines.append(
            f"  {name:<12}{row['file']:<24}{_megabytes(row['size_bytes']):>10}"
            f"{row['max_abs_diff']:>12.2e}{row['accuracy']:>10.4f}{iou}  "
            f"{'ok' if row['passed'] else 'FAILED'}"
        )
    return "\n".join(lines)


NUM_OVERLAYS = 6


def _write_overlays(prepared: _Prepared, model: keras.Model, workdir: str) -> str:
    """``workdir/overlays.png``: the first test images, their masks and the model's prediction."""
    from yeehaw_tf.analysis.plots import plot_segmentation

    batch = next(iter(prepared.pipeline(prepared.test, batch_size=NUM_OVERLAYS, training=False)))
    images, masks = batch
    predictions = np.argmax(model(images, training=False), axis=-1)
    path = os.path.join(workdir, "overlays.png")
    pixels = np.clip(np.round(images.numpy()), 0, 255).astype(np.uint8)
    return plot_segmentation(path, pixels, masks.numpy(), predictions, prepared.task.class_names)


def format_summary(summary: dict) -> str:
    """The terminal table printed at the end of ``train.py``."""
    test = summary["test"]
    lines = [
        "",
        "=" * 72,
        f"workdir           {summary['workdir']}",
        f"steps             {summary['steps']}  ({summary['replicas']} replica(s))",
        f"test accuracy     {test.get('accuracy', float('nan')):.4f}",
        *([f"test mean IoU     {test['mean_iou']:.4f}"] if "mean_iou" in test else []),
        f"test loss         {test['loss']:.4f}",
        f"parameters        {summary['parameters']:,}",
        f"train time        {summary['train_seconds']:.1f} s",
        f"wall time         {summary['wall_seconds']:.1f} s",
    ]
    if "overlays" in summary:
        lines += [f"overlays          {summary['overlays']}"]
    if "export" in summary:
        lines += [f"export            {os.path.join(summary['workdir'], 'export')}"]
        lines += [format_export_report(summary["export"])]
    if "export_error" in summary:
        lines += ["EXPORT FAILED (the previous export, if any, is unchanged):"]
        lines += [summary["export_error"]]
    lines.append("=" * 72)
    return "\n".join(lines)
