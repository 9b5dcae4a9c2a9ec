"""Mixed precision: float16 trains with loss scaling, variables and logits stay float32; a
bfloat16 run on CPU trains with a finite loss and exports a float32 model."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.test_trainer import _batches, _trainer
from yeehaw_tf.training import TrainConfig, run_experiment


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_custom_loop_under_mixed_precision(tmp_path, policy):
    keras.mixed_precision.set_dtype_policy(policy)  # the conftest fixture restores float32
    trainer = _trainer(tmp_path)
    is_scaled = isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert is_scaled == (policy == "mixed_float16")  # loss scaling is for float16 only
    assert all(v.dtype == "float32" for v in trainer.model.weights)
    compute = {layer.compute_dtype for layer in trainer.model.layers if layer.weights}
    assert compute & {"float16", "bfloat16"}
    x, _ = next(iter(_batches()))
    assert trainer.model(x).dtype == tf.float32  # the logits layer computes in float32
    results = trainer.train(_batches(), 6, verbose=0)
    assert np.isfinite(results["loss"])
    if is_scaled:
        assert float(trainer.optimizer.dynamic_scale.numpy()) > 1.0  # the scale is in use


def test_a_bfloat16_run_trains_and_exports_a_float32_model(tmp_path, data_dir):
    config = TrainConfig(
        workdir=str(tmp_path / "run"),
        data_dir=data_dir,
        mixed_precision="bfloat16",
        train_steps=4,
        steps_per_loop=2,
        quantize=("float32",),
    )
    summary = run_experiment(config, verbose=0)
    assert np.isfinite(summary["test"]["loss"]) and np.isfinite(summary["train"]["loss"])
    assert all(row["passed"] for row in summary["export"]["formats"].values())
    loaded = tf.saved_model.load(os.path.join(config.workdir, "export", "saved_model"))
    assert {v.dtype for v in loaded.variables} == {tf.float32}
    assert keras.mixed_precision.dtype_policy().name == "float32"  # the run restored it
