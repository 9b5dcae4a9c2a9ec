"""--augment through the tasks: the policy reaches the training pipeline only, changes what the
model is trained on, and never the exports (same outputs as the Keras model, no random ops in
the SavedModel graph or the TFLite file)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.export import TFLiteModel
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.experiment import run_experiment
from yeehaw_tf.training.tasks import (
    ClassificationOptions,
    ClassificationTask,
    DetectionOptions,
    SegmentationOptions,
)


def _graph_ops(saved_model: str) -> set[str]:
    function = tf.saved_model.load(saved_model).signatures["serving_default"]
    ops = {op.type for op in function.graph.get_operations()}
    for f in function.graph.as_graph_def().library.function:  # called functions too
        ops |= {node.op for node in f.node_def}
    return ops


def test_an_augmented_run_exports_a_graph_without_random_ops(data_dir, tmp_path):
    workdir = str(tmp_path / "run")
    config = make_config(
        workdir=workdir,
        data_dir=data_dir,
        model="mlp",
        augment="geometric",
        train_steps=4,
        quantize=("float32",),
    )
    summary = run_experiment(config, verbose=0)
    assert "export_error" not in summary
    export = os.path.join(workdir, "export")
    with open(os.path.join(export, "report.json")) as f:
        report = json.load(f)
    assert report["formats"]["saved_model"]["passed"] and report["formats"]["float32"]["passed"]
    ops = _graph_ops(os.path.join(export, "saved_model"))
    assert "MatMul" in ops or "BatchMatMulV2" in ops  # the model is there...
    assert not [op for op in ops if "Random" in op or "Stateless" in op], ops  # ...no dice
    tflite = TFLiteModel(open(os.path.join(export, "model_float32.tflite"), "rb").read())
    assert not [op for op in tflite.op_names() if "RANDOM" in op.upper()]


def test_the_policy_changes_training_batches_only(data_dir):
    plain = ClassificationOptions(model="mlp")
    augmented = ClassificationOptions(model="mlp", augment="geometric")
    data = ClassificationTask.load_data(plain, data_dir)
    batches = []
    for options in (plain, augmented):
        task = ClassificationTask.from_data(options, data)
        train = next(iter(task.train_dataset(data, 32, seed=3)))
        test = next(iter(task.eval_dataset(data, 32)))
        batches.append((train, test))
    (train_a, test_a), (train_b, test_b) = batches
    np.testing.assert_array_equal(train_a[1], train_b[1])  # same examples, same order
    assert not np.array_equal(train_a[0], train_b[0])  # transformed
    np.testing.assert_array_equal(test_a[0], test_b[0])  # evaluation untouched


@pytest.mark.parametrize(
    "options_type, policy",
    [
        (ClassificationOptions, "mosaic"),
        (SegmentationOptions, "mixup"),
        (DetectionOptions, "cutmix"),
    ],
)
def test_a_policy_the_task_does_not_have_is_refused_naming_augment(options_type, policy):
    with pytest.raises(ValueError, match=f"augment='{policy}' is not an augmentation policy"):
        options_type(augment=policy)
    with pytest.raises(ValueError, match="does not combine with augment=mixup"):
        ClassificationOptions(augment="mixup", adversarial_training="fgsm")
