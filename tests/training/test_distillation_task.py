"""The distillation task: a student learns from a frozen teacher (a run's workdir or a .keras
file) with the custom loop and with fit; the teacher stays out of the optimizer, checkpoints and
exports, so a finished run reads back and exports without it; bad teachers and options are
refused by name."""

from __future__ import annotations

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL, run_cli
from tests.losses.test_distillation import _np_loss
from yeehaw_tf.training import Trainer
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.experiment import export_workdir, run_experiment
from yeehaw_tf.training.runs import load_model, load_run
from yeehaw_tf.training.tasks import DistillationOptions, DistillationTask
from yeehaw_tf.training.tasks.images import as_arrays

QUICK = {"export": False, "checkpoint_every": 10, "steps_per_loop": 5, "batch_size": 32}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, data_dir) -> str:
    """A classification run's workdir: an mlp trained for 30 steps."""
    workdir = str(tmp_path_factory.mktemp("distillation") / "teacher")
    config = make_config(workdir=workdir, data_dir=data_dir, model="mlp", train_steps=30, **QUICK)
    run_experiment(config, verbose=0)
    return workdir


@pytest.fixture(scope="module")
def data(data_dir):
    return DistillationTask.load_data(DistillationOptions(teacher="unused"), data_dir)


def _errors(model, data) -> int:
    images, labels = as_arrays(data.test)
    logits = model(images.astype("float32"), training=False)
    return int(np.sum(np.argmax(logits, axis=-1) != labels))


@pytest.mark.parametrize("loop", ["custom", "fit"])
def test_a_distilled_run_reads_back_and_exports_without_its_teacher(
    loop, teacher, data, data_dir, tmp_path
):
    moved = str(tmp_path / "teacher")
    shutil.copytree(teacher, moved)
    workdir = str(tmp_path / "student")
    config = make_config(
        workdir=workdir,
        data_dir=data_dir,
        task="distillation",
        teacher=moved,
        model="mlp_small",
        train_steps=10,
        loop=loop,
        **QUICK,
    )
    summary = run_experiment(config, verbose=0)
    assert summary["steps"] == 10 and np.isfinite(summary["train"]["loss"])
    assert ("teacher", moved) in summary["rows"]
    shutil.rmtree(moved)  # the finished run needs no teacher
    run = load_run(workdir)
    assert set(run.models) == {"model"} and run.task.teacher is None
    accuracy = 1 - _errors(run.model, data) / data.num_test
    assert accuracy == pytest.approx(summary["test"]["accuracy"], abs=1e-6)
    if loop == "custom":  # export once: it costs a few seconds
        export_workdir(workdir, formats=("saved_model",), data_dir=data_dir)
        with open(os.path.join(workdir, "export", "metadata.json")) as f:
            metadata = json.load(f)
        assert metadata["task"] == "classification"  # served (and predicted) as a classifier
        assert metadata["distilled_from"] == moved


def test_the_teacher_is_frozen_and_the_loss_is_the_formula(teacher, data, tmp_path):
    options = DistillationOptions(teacher=teacher, model="mlp_small", temperature=3.0, alpha=0.3)
    task = DistillationTask.from_data(options, data)
    trainer = Trainer(
        task, build_optimizer=lambda: keras.optimizers.Adam(1e-2), workdir=str(tmp_path)
    )
    assert set(trainer.models) == {"model"}
    student = trainer.models["model"]
    assert not task.teacher.trainable_variables  # frozen: nothing for an optimizer to find
    # the training loss: the formula on the teacher's and the student's logits
    images, labels = next(iter(task.train_dataset(data, 16, seed=0)))
    s = np.asarray(student(images), "float64")
    t = np.asarray(task.teacher(images), "float64")
    output = task.compute_loss(trainer.models, (images, labels), True, None)
    want = _np_loss(labels.numpy(), s, t, 3.0, 0.3).sum()
    assert float(output.total) == pytest.approx(want, rel=FLOAT32_ATOL)
    # evaluation: the student's cross-entropy on the labels (no teacher involved)
    output = task.compute_loss(trainer.models, (images, labels), False, None)
    assert float(output.total) == pytest.approx(_np_loss(labels.numpy(), s, t, 1.0, 1.0).sum())

    teacher_before = [w.numpy().copy() for w in task.teacher.weights]
    student_before = [w.numpy().copy() for w in student.weights]
    trainer.train(task.train_dataset(data, 32, seed=0), 5, verbose=0)
    after = [w.numpy() for w in task.teacher.weights]
    assert all(np.array_equal(a, b) for a, b in zip(teacher_before, after, strict=True))
    assert not np.array_equal(student_before[0], student.weights[0].numpy())
    slots = {id(v) for v in trainer.optimizer.variables}
    assert not slots & {id(v) for v in task.teacher.weights}
    ckpt = trainer.save()
    saved = {tuple(shape) for _, shape in tf.train.list_variables(ckpt) if shape}
    assert saved == {tuple(w.shape) for w in student.weights}  # no [64, 256] of the teacher


def test_a_keras_file_teacher_and_teachers_that_do_not_fit(teacher, data, tmp_path):
    path = str(tmp_path / "teacher.keras")
    load_model(teacher).save(path)
    task = DistillationTask.from_data(DistillationOptions(teacher=path), data)
    assert task.teacher.outputs[0].shape[-1] == 10

    def saved(input_shape, classes, name):
        inputs = keras.Input(input_shape)
        outputs = keras.layers.Dense(classes)(keras.layers.Flatten()(inputs))
        keras.Model(inputs, outputs).save(str(tmp_path / name))
        return str(tmp_path / name)

    wrong = saved((8, 8, 1), 3, "three_classes.keras")
    with pytest.raises(ValueError, match=r"--teacher .*logits \(3,\).*\(8, 8, 1\) and 10 classes"):
        DistillationTask.from_data(DistillationOptions(teacher=wrong), data)
    wrong = saved((16, 16, 3), 10, "rgb.keras")
    with pytest.raises(ValueError, match=r"--teacher .*images \(16, 16, 3\).*images \(8, 8, 1\)"):
        DistillationTask.from_data(DistillationOptions(teacher=wrong), data)
    for missing in (str(tmp_path / "nowhere"), str(tmp_path / "nothing.keras")):
        with pytest.raises(ValueError, match="--teacher"):
            DistillationTask.from_data(DistillationOptions(teacher=missing), data)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs a teacher: pass --teacher="),
        ({"teacher": "t", "temperature": 0.0}, "temperature must be a finite number > 0"),
        ({"teacher": "t", "temperature": -2.0}, "temperature must be a finite number > 0"),
        ({"teacher": "t", "alpha": 1.5}, r"alpha must be in \[0, 1\]"),
        ({"teacher": "t", "alpha": -0.1}, r"alpha must be in \[0, 1\]"),
        ({"teacher": "t", "loss": "hinge"}, "loss='hinge' does not apply to the distillation"),
        ({"teacher": "t", "model": "no_such_net"}, "unknown model"),
    ],
)
def test_bad_options_are_refused_naming_them(options, message):
    with pytest.raises(ValueError, match=message):
        DistillationOptions(**options)


def test_train_py_reports_a_missing_teacher_without_a_traceback(tmp_path, data_dir):
    result = run_cli(
        "train.py",
        "--task=distillation",
        f"--teacher={tmp_path / 'no_run_here'}",
        f"--data_dir={data_dir}",
        f"--workdir={tmp_path / 'w'}",
        "--train_steps=1",
    )
    assert result.returncode == 1
    assert "--teacher" in result.stderr and "Traceback" not in result.stderr
