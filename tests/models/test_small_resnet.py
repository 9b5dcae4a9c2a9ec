import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.models import classifier_names, get_classifier
from yeehaw_tf.models.classification.small_resnet import small_resnet


def _expected_parameters(widths, blocks, channels, classes, norm="batch"):
    """Closed-form count: conv k*k*cin*cout (+cout bias without a norm), batch norm 4*c
    (gamma, beta, moving mean and variance), the other norms 2*c, dense (c+1)*classes."""
    per_channel = {"batch": 4, "layer": 2, "group": 2, "instance": 2, "none": 1}[norm]
    conv = lambda k, cin, cout: k * k * cin * cout  # noqa: E731
    bn = lambda c: per_channel * c  # noqa: E731 - for "none": the conv bias
    total = conv(3, channels, widths[0]) + bn(widths[0])
    cin = widths[0]
    for stage, width in enumerate(widths):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            if stride != 1 or cin != width:
                total += conv(1, cin, width) + bn(width)
            total += conv(3, cin, width) + bn(width) + conv(3, width, width) + bn(width)
            cin = width
    return total + (cin + 1) * classes


@pytest.mark.parametrize(
    "widths, blocks, shape, classes",
    [((32, 64, 128), 1, (8, 8, 1), 10), ((16, 32), 2, (12, 12, 3), 5), ((8,), 3, (4, 4, 2), 3)],
)
def test_parameter_count_matches_the_closed_form(widths, blocks, shape, classes):
    model = small_resnet(classes, shape, widths=widths, blocks_per_stage=blocks)
    assert model.count_params() == _expected_parameters(widths, blocks, shape[-1], classes)


@pytest.mark.parametrize("norm", ["layer", "group", "instance", "none"])
def test_parameter_count_with_each_normalization(norm):
    model = small_resnet(10, (8, 8, 1), norm=norm, activation="elu", dropout=0.3)
    assert model.count_params() == _expected_parameters((32, 64, 128), 1, 1, 10, norm)


def test_choices_are_used_and_regularizers_reach_every_kernel():
    from yeehaw_tf import layers
    from yeehaw_tf.regularizers import L2

    model = small_resnet(
        3,
        (8, 8, 1),
        widths=(8,),
        activation="leaky_relu",
        norm="instance",
        dropout=0.5,
        kernel_regularizer=L2(1e-3),
    )
    kinds = {type(layer) for layer in model.layers}
    assert {layers.LeakyReLU, layers.InstanceNormalization, layers.Dropout} <= kinds
    kernels = [layer for layer in model.layers if hasattr(layer, "kernel")]
    assert len(model.losses) == len(kernels) > 0


def test_default_has_the_documented_count():
    assert small_resnet().count_params() == 309_418


def test_outputs_are_finite_and_every_variable_gets_a_gradient():
    model = small_resnet(10, (8, 8, 1))
    x = tf.random.normal([4, 8, 8, 1])
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(tf.square(logits))
    assert logits.shape == (4, 10) and bool(tf.reduce_all(tf.math.is_finite(logits)))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)


def test_saves_and_loads_in_safe_mode(tmp_path):
    model = small_resnet(3, (8, 8, 1), widths=(8, 16))
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype(np.float32)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_classes": 0}, "num_classes"),
        ({"input_shape": (8, 8)}, "input_shape"),
        ({"input_shape": (2, 2, 1)}, "too small"),
        ({"widths": ()}, "widths"),
        ({"blocks_per_stage": 0}, "blocks_per_stage"),
        ({"activation": "gelu9"}, "activation"),
        ({"norm": "weight"}, "norm"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_resnet(**kwargs)


def test_registry_lists_and_refuses_names():
    assert "small_resnet" in classifier_names()
    assert get_classifier("small_resnet") is small_resnet
    with pytest.raises(ValueError, match="valid names: .*small_resnet"):
        get_classifier("resnet9000")
