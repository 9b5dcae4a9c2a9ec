"""run_experiment in-process: what the summary says when an export misses its limits."""

from yeehaw_tf.export import spec
from yeehaw_tf.training import TrainConfig, format_summary, run_experiment


def test_an_export_failure_is_reported_with_the_run_summary(tmp_path, data_dir, monkeypatch):
    monkeypatch.setitem(spec.PROBABILITY_LIMITS, "float32", -1.0)
    config = TrainConfig(
        workdir=str(tmp_path / "run"),
        data_dir=data_dir,
        train_steps=3,
        steps_per_loop=3,
        formats=("tflite",),
        quantize=("float32",),
    )
    summary = run_experiment(config, verbose=0)
    assert "export_error" in summary and "float32" in summary["export_error"]
    text = format_summary(summary)
    assert "FAILED" in text and "EXPORT FAILED" in text and "test accuracy" in text
    assert not (tmp_path / "run" / "export").exists()


def test_weight_decay_is_decoupled_and_spares_biases_and_norm_parameters():
    import keras
    import numpy as np

    config = TrainConfig(workdir="w", learning_rate=0.1, weight_decay=0.5)
    optimizer = config.build_optimizer(total_steps=100)
    kernel = keras.Variable(np.ones((2, 2), np.float32), name="kernel")
    bias = keras.Variable(np.ones(2, np.float32), name="bias")
    gamma = keras.Variable(np.ones(2, np.float32), name="gamma")
    variables = [kernel, bias, gamma]
    optimizer.apply([keras.ops.zeros_like(v) for v in variables], variables)
    np.testing.assert_allclose(kernel.numpy(), 1.0 - 0.1 * 0.5, rtol=1e-6)  # w -= lr * wd * w
    np.testing.assert_array_equal(bias.numpy(), 1.0)
    np.testing.assert_array_equal(gamma.numpy(), 1.0)
