"""The probes (:mod:`yeehaw_tf.analysis.probe`) of a self-supervised task's encoder on its
labelled splits, and of a finished run's workdir."""

from __future__ import annotations

import dataclasses

import keras

from yeehaw_tf.analysis.probe import embed, probe_embeddings
from yeehaw_tf.training.runs import load_run
from yeehaw_tf.training.tasks.images import as_arrays


def probe_task_model(task, model: keras.Model, data) -> dict[str, float]:
    """Both probes of ``model`` (a task's inference model) on the task's labelled splits."""
    train_images, train_labels = as_arrays(data.train)
    test_images, test_labels = as_arrays(data.test)
    return probe_embeddings(
        embed(model, train_images),
        train_labels,
        embed(model, test_images),
        test_labels,
        task.options.probe_k,
    )


def probe_workdir(workdir: str, data_dir: str | None = None, k: int | None = None) -> dict:
    """Re-runs the probes on a pre-trained run (its latest checkpoint) and returns them."""
    run = load_run(workdir)
    task = run.task
    if not hasattr(task.options, "probe_k"):
        raise ValueError(
            f"{workdir} holds a {task.name!r} run; the probe reads self_supervised runs"
        )
    if k is not None:
        task.options = dataclasses.replace(task.options, probe_k=k)
    data = type(task).load_data(task.options, data_dir or run.record["train"].get("data_dir"))
    return probe_task_model(task, run.model, data)
