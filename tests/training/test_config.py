import numpy as np
import pytest

from yeehaw_tf.training import TrainConfig
from yeehaw_tf.training.config import make_config


def test_defaults_are_the_main_job():
    config = TrainConfig(workdir="w")
    assert (config.task, config.model, config.dataset) == (
        "classification",
        "small_resnet",
        "digits",
    )
    assert config.total_steps(1437) == 30 * (1437 // 64)
    assert TrainConfig(workdir="w", train_steps=7).total_steps(1437) == 7
    assert make_config(workdir="w", train_steps=7).total_steps(1437) == 7


def test_flat_values_split_into_common_fields_and_task_options():
    config = make_config(workdir="w", task="segmentation", model="unet", base_filters=8, epochs=2)
    assert config.options.base_filters == 8 and config.model == "unet"
    assert config.dataset == "shapes" and config.total_steps(640) == 2 * (640 // 64)
    assert make_config(workdir="w", task="segmentation").options.epochs == 6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"task": "detection3d"}, "unknown task .* valid names: classification"),
        ({"model": "nope"}, "unknown model .* valid names"),
        ({"dataset": "nope"}, "unknown dataset .* valid names"),
        ({"loop": "jax"}, "loop must be one of custom, fit"),
        ({"mixed_precision": "int4"}, "mixed_precision"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"train_steps": -1}, "train_steps"),
        ({"epochs": 1.5}, "epochs"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": float("inf")}, "learning_rate"),
        ({"formats": ("onnx",)}, "formats"),
        ({"quantize": ("int4",)}, "quantize"),
        ({"workdir": ""}, "workdir"),
        ({"norm": "batchy"}, "unknown norm"),
        ({"activation": "swish"}, "unknown activation"),
        ({"loss": "focal"}, "unknown loss"),
        ({"dropout": 1.0}, "dropout"),
        ({"loss": "hinge", "label_smoothing": 0.1}, "label_smoothing applies to the cross_entropy"),
        ({"label_smoothing": 1.5}, "label_smoothing"),
        ({"l2": -1.0}, "l2"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"optimizer": "adam", "momentum": 0.9}, "momentum does not apply"),
        ({"lr_schedule": "step", "lr_boundaries": (9, 3)}, "strictly increasing"),
        ({"optimizer": "lion"}, "unknown optimizer"),
        ({"task": "segmentation", "model": "small_resnet"}, "unknown segmentation model .* unet"),
        (
            {"task": "segmentation", "model": "unet", "loss": "hinge"},
            "option 'loss' does not apply to task 'segmentation' \\(it is an option of tasks "
            "classification, distillation, gan\\)",
        ),
        ({"task": "segmentation", "model": "fcn8s", "base_filters": 8}, "does not offer"),
        (
            {"base_filters": 8},
            "option 'base_filters' does not apply to task 'classification' \\(it is an option "
            "of task segmentation\\)",
        ),
        ({"colour": "red"}, "unknown option 'colour'"),
        ({"on_nan": "ignore"}, "on_nan must be one of raise, skip_step"),
        ({"seed": True}, "seed must be an integer"),
        ({"lr_schedule": "exponential", "lr_decay_steps": 0}, "lr_decay_steps must be a positive"),
    ],
)
def test_bad_values_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_config(**{"workdir": "w", **kwargs})


def test_a_batch_larger_than_the_data_is_refused():
    with pytest.raises(ValueError, match="larger than the training split"):
        TrainConfig(workdir="w", batch_size=128).total_steps(100)


def test_an_unset_warmup_is_the_tasks_default_and_a_given_one_wins():
    """``--warmup_steps`` not given: the task's warm-up (detection: a tenth of the run; the
    others none); given, even as 0, it is used as is. The schedule's values are checked
    against the linear ramp ``lr * (step + 1) / warmup`` of the first steps... via its own
    value at the end of the warm-up (the peak)."""
    detection = make_config(workdir="w", task="detection")
    assert detection.warmup_steps is None and detection.warmup(992) == 99
    assert make_config(workdir="w", task="detection", warmup_steps=0).warmup(992) == 0
    assert make_config(workdir="w", task="detection", warmup_steps=7).warmup(992) == 7
    assert make_config(workdir="w").warmup(992) == 0  # classification
    schedule = detection.schedule(992)
    assert float(schedule(0)) < 0.05 * detection.learning_rate  # ramping up from 0
    np.testing.assert_allclose(float(schedule(99)), detection.learning_rate, rtol=1e-6)
    flat = make_config(workdir="w", task="detection", warmup_steps=0).schedule(992)
    np.testing.assert_allclose(float(flat(0)), detection.learning_rate, rtol=1e-6)
