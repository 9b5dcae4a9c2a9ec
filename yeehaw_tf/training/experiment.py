"""A whole run: data, statistics, model, training (custom loop or fit), evaluation, export.

``train.py`` and ``python -m export`` are thin command-line faces over :func:`run_experiment`
and :func:`export_workdir`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from yeehaw_tf.atomic import atomic_write_text
from yeehaw_tf.data.datasets import load_classification
from yeehaw_tf.data.pipeline import classification_pipeline
from yeehaw_tf.data.statistics import channel_mean_std
from yeehaw_tf.export.classifier import FORMATS, ExportCheckError, export_classifier
from yeehaw_tf.export.tflite import QUANTIZATIONS
from yeehaw_tf.training.config import RUN_OPTIONS, TrainConfig
from yeehaw_tf.training.strategy import cluster_workers, is_chief, make_strategy
from yeehaw_tf.training.tasks import ClassificationTask
from yeehaw_tf.training.trainer import Trainer

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
    """``(images uint8, labels int64)`` numpy arrays from a dataset of pairs."""
    if limit is not None:
        dataset = dataset.take(limit)
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(image)
        labels.append(label)
    return np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64)


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


def _float32_model(task: ClassificationTask, model: keras.Model) -> keras.Model:
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

    data = load_classification(config.dataset, config.data_dir)
    mean, std = channel_mean_std(data.train.map(lambda image, label: image))
    task = ClassificationTask(
        model_name=config.model,
        num_classes=data.num_classes,
        input_shape=data.image_shape,
        mean=tuple(mean.tolist()),
        std=tuple(np.maximum(std, 1e-3).tolist()),
        **config.task_options(),
    )
    total_steps = config.total_steps(data.num_train)
    config.schedule(total_steps)  # the schedule's options against the real run length
    _check_workdir(config.workdir, config, total_steps)
    if chief:
        record = {"train": config.to_dict(), "task": task.to_dict(), "total_steps": total_steps}
        atomic_write_text(os.path.join(config.workdir, CONFIG_FILE), json.dumps(record, indent=2))

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
            steps_per_epoch=max(1, data.num_train // config.batch_size),
            jit_compile=config.jit_compile,
        )
        train_ds = classification_pipeline(
            data.train, batch_size=config.batch_size, training=True, seed=config.seed
        )
        test_ds = classification_pipeline(data.test, batch_size=EVAL_BATCH_SIZE, training=False)
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
    if config.export and chief:
        images, labels = as_arrays(data.test)
        representative, _ = as_arrays(data.train, NUM_REPRESENTATIVE)
        try:
            summary["export"] = export_classifier(
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
    task = ClassificationTask.from_dict(record["task"])
    training_model = task.build_model()
    model = task.inference_model(training_model)
    try:
        status = tf.train.Checkpoint(model=training_model).restore(checkpoint).expect_partial()
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as e:
        raise ValueError(
            f"checkpoint {checkpoint} does not fit the model described by {config_path}: {e}"
        ) from None
    train = record["train"]
    data = load_classification(train["dataset"], data_dir or train["data_dir"])
    images, labels = as_arrays(data.test)
    representative, _ = as_arrays(data.train, NUM_REPRESENTATIVE)
    return export_classifier(
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
        f"  {'format':<12}{'file':<24}{'size':>10}{'max |dp|':>12}{'accuracy':>10}  parity",
    ]
    for name, row in report["formats"].items():
        lines.append(
            f"  {name:<12}{row['file']:<24}{_megabytes(row['size_bytes']):>10}"
            f"{row['max_abs_diff']:>12.2e}{row['accuracy']:>10.4f}  "
            f"{'ok' if row['passed'] else 'FAILED'}"
        )
    return "\n".join(lines)


def format_summary(summary: dict) -> str:
    """The terminal table printed at the end of ``train.py``."""
    test = summary["test"]
    lines = [
        "",
        "=" * 72,
        f"workdir           {summary['workdir']}",
        f"steps             {summary['steps']}  ({summary['replicas']} replica(s))",
        f"test accuracy     {test.get('accuracy', float('nan')):.4f}",
        f"test loss         {test['loss']:.4f}",
        f"parameters        {summary['parameters']:,}",
        f"train time        {summary['train_seconds']:.1f} s",
        f"wall time         {summary['wall_seconds']:.1f} s",
    ]
    if "export" in summary:
        lines += [f"export            {os.path.join(summary['workdir'], 'export')}"]
        lines += [format_export_report(summary["export"])]
    if "export_error" in summary:
        lines += ["EXPORT FAILED (the previous export, if any, is unchanged):"]
        lines += [summary["export_error"]]
    lines.append("=" * 72)
    return "\n".join(lines)
