import pytest

from yeehaw_tf.training import TrainConfig


def test_defaults_are_the_main_job():
    config = TrainConfig(workdir="w")
    assert (config.task, config.model, config.dataset) == (
        "classification",
        "small_resnet",
        "digits",
    )
    assert config.total_steps(1437) == 30 * (1437 // 64)
    assert TrainConfig(workdir="w", train_steps=7).total_steps(1437) == 7


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
        ({"task": "segmentation", "model": "unet", "loss": "hinge"}, "classification task only"),
        ({"task": "segmentation", "model": "fcn8s", "base_filters": 8}, "does not offer"),
        ({"base_filters": 8}, "base_filters applies to segmentation models only"),
        ({"on_nan": "ignore"}, "on_nan must be one of raise, skip_step"),
        ({"seed": True}, "seed must be an integer"),
        ({"lr_schedule": "exponential", "lr_decay_steps": 0}, "lr_decay_steps must be a positive"),
        ({"on_nan": "skip_step", "loop": "fit"}, "skip_step needs the custom loop"),
    ],
)
def test_bad_values_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{"workdir": "w", **kwargs})


def test_a_batch_larger_than_the_data_is_refused():
    with pytest.raises(ValueError, match="larger than the training split"):
        TrainConfig(workdir="w", batch_size=128).total_steps(100)
