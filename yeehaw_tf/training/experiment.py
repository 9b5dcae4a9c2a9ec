"""A whole run: data, statistics, models, training (custom loop or fit), evaluation, export.

Every step goes through the task (``yeehaw_tf.training.tasks``): nothing here knows which
paradigm it runs. ``train.py`` and ``python -m export`` are thin command-line faces over
:func:`run_experiment` and :func:`export_workdir`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time

import keras
import tensorflow as tf
from absl import logging

from yeehaw_tf.atomic import atomic_write_text
from yeehaw_tf.data.datasets import default_data_dir
from yeehaw_tf.export.exporter import FORMATS, ExportCheckError, export_spec
from yeehaw_tf.export.tflite import QUANTIZATIONS
from yeehaw_tf.training.config import RUN_OPTIONS, TrainConfig
from yeehaw_tf.training.runs import CONFIG_FILE, load_run, read_record
from yeehaw_tf.training.strategy import cluster_workers, is_chief, make_strategy
from yeehaw_tf.training.tasks import get_task
from yeehaw_tf.training.tasks.images import as_arrays
from yeehaw_tf.training.trainer import Trainer

EVAL_BATCH_SIZE = 256

__all__ = ["as_arrays", "export_workdir", "format_summary", "run_experiment", "seed_everything"]


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


def _same(recorded, current) -> bool:
    """Equal values; an empty list and ``None`` (an unset multi-valued flag, as older records
    wrote it) are the same setting."""
    return recorded == current or (recorded in (None, []) and current in (None, []))


def _check_workdir(workdir: str, config: TrainConfig, total_steps: int) -> None:
    """Refuses to resume a run whose checkpoints were made with another configuration."""
    if not os.path.exists(os.path.join(workdir, CONFIG_FILE)) or not tf.train.latest_checkpoint(
        os.path.join(workdir, "checkpoints")
    ):
        return  # nothing trained yet: the new configuration simply replaces the old one
    record = read_record(workdir)
    previous = {**record["train"], "total_steps": record.get("total_steps")}
    current = json.loads(json.dumps({**config.to_dict(), "total_steps": total_steps}))
    # the warm-up the schedule used, not how it was asked for (records before the task
    # defaults wrote 0 for "none"; an unset one is the task's default)
    if previous.get("warmup_steps") is None:  # another task is reported by "task" itself
        steps = previous["total_steps"] or total_steps
        previous["warmup_steps"] = get_task(config.task).default_warmup_steps(steps)
    current["warmup_steps"] = config.warmup(total_steps)
    changed = {k: (previous.get(k), v) for k, v in current.items() if k not in RUN_OPTIONS}
    changed = {k: v for k, v in changed.items() if not _same(*v)}
    if changed:
        details = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
        raise ValueError(
            f"workdir {workdir} holds a different run ({details}); resuming would mix them. "
            "(A different number of steps would also restart the learning-rate schedule.) "
            "Use another --workdir."
        )


def _float32_models(task, trainer: Trainer) -> dict:
    """The same weights in float32 models (what we export after mixed-precision training)."""
    if keras.mixed_precision.dtype_policy().name == "float32":
        return trainer.models
    with dtype_policy("none"):
        clones = task.build_models()
    for name, clone in clones.items():
        clone.set_weights(trainer.models[name].get_weights())
    return clones


def run_experiment(config: TrainConfig, verbose: int = 1) -> dict:
    """Trains ``config``'s task, evaluates, exports; returns a summary.

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
    task_type = get_task(config.task)
    data = task_type.load_data(config.options, config.data_dir)
    task = task_type.from_data(config.options, data)
    total_steps = config.total_steps(data.num_train)
    config.schedule(total_steps)  # the schedule's options against the real run length
    _check_workdir(config.workdir, config, total_steps)

    # Seed after the data is ready: preparing a dataset in this process consumes Python's random
    # state, which Keras's default seeds are drawn from; the run must not depend on that.
    seed_everything(config.seed, config.deterministic)
    with dtype_policy(config.mixed_precision):
        trainer = Trainer(
            task,
            build_optimizer=lambda: config.build_optimizer(total_steps),
            workdir=config.workdir,
            strategy=strategy,
            seed=config.seed,
            checkpoint_every=config.checkpoint_every,
            steps_per_loop=config.steps_per_loop,
            steps_per_epoch=max(1, data.num_train // config.batch_size),
            jit_compile=config.jit_compile,
            on_nan=config.on_nan,
        )
        # Written once everything that can refuse the configuration has accepted it, so a
        # refused run leaves an existing record as it was.
        if chief:
            record = {"train": config.to_dict(), "task": task.to_dict(), "total_steps": total_steps}
            atomic_write_text(
                os.path.join(config.workdir, CONFIG_FILE), json.dumps(record, indent=2)
            )
        train_ds = task.train_dataset(data, config.batch_size, config.seed)
        test_ds = task.eval_dataset(data, EVAL_BATCH_SIZE)
        train_began = time.perf_counter()
        drive = trainer.fit if config.loop == "fit" else trainer.train
        train_results = drive(train_ds, total_steps, verbose=verbose)
        if task.finish_training(trainer.models, data):  # fits that are not gradient steps
            trainer.save()
        train_seconds = time.perf_counter() - train_began
        evaluation = trainer.evaluate(test_ds)
        model = task.inference_model(_float32_models(task, trainer))

    # artifacts first: what they measure (a probe) may feed the summary's rows
    artifacts = task.write_artifacts(model, data, config.workdir) if chief else None
    summary = {
        "workdir": os.path.abspath(config.workdir),
        "steps": int(trainer.step.numpy()),
        "train": train_results,
        "test": evaluation,
        "rows": task.summary_rows(evaluation),
        "parameters": int(model.count_params()),
        "train_seconds": train_seconds,
        "replicas": strategy.num_replicas_in_sync,
    }
    if chief:
        summary["artifacts"] = artifacts
    if config.export and chief:
        try:
            summary["export"] = export_spec(
                task.serving_spec(model, data),
                os.path.join(config.workdir, "export"),
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
    run = load_run(workdir, checkpoint)
    task = run.task  # the recorded task (its statistics), not one measured again
    data = type(task).load_data(task.options, data_dir or run.record["train"].get("data_dir"))
    return export_spec(
        task.serving_spec(run.model, data),
        os.path.join(workdir, "export"),
        formats=formats,
        quantizations=quantize,
    )


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.2f} MB" if size >= 1024 * 1024 else f"{size / 1024:.1f} KB"


def format_export_report(report: dict) -> str:
    """One line per exported file: size, largest difference from Keras, scores, parity."""
    rows = list(report["formats"].items())
    scores = [k for k in report.get("keras", {}) if k != "parameters"]
    header = f"  {'format':<12}{'file':<24}{'size':>10}{'max |d|':>12}"
    header += "".join(f"{name[:10]:>11}" for name in scores)
    lines = [header + "  parity"]
    for name, row in rows:
        diff = row.get("max_abs_diff")
        size = _megabytes(row["size_bytes"]) if "size_bytes" in row else "-"
        line = f"  {name:<12}{row['file']:<24}{size:>10}"
        line += f"{diff:>12.2e}" if diff is not None else f"{'':>12}"
        line += "".join(f"{row.get(k, float('nan')):>11.4f}" for k in scores)
        lines.append(line + f"  {'ok' if row['passed'] else 'FAILED'}")
    return "\n".join(lines)


def format_summary(summary: dict) -> str:
    """The terminal table printed at the end of ``train.py``."""
    lines = [
        "",
        "=" * 72,
        f"workdir           {summary['workdir']}",
        f"steps             {summary['steps']}  ({summary['replicas']} replica(s))",
        *[f"{label:<17} {value}" for label, value in summary.get("rows", [])],
        f"parameters        {summary['parameters']:,}",
        f"train time        {summary['train_seconds']:.1f} s",
        f"wall time         {summary['wall_seconds']:.1f} s",
    ]
    lines += [f"{name:<18}{path}" for name, path in summary.get("artifacts", {}).items()]
    if "export" in summary:
        lines += [f"export            {os.path.join(summary['workdir'], 'export')}"]
        lines += [format_export_report(summary["export"])]
    if "export_error" in summary:
        lines += ["EXPORT FAILED (the previous export, if any, is unchanged):"]
        lines += [summary["export_error"]]
    lines.append("=" * 72)
    return "\n".join(lines)
