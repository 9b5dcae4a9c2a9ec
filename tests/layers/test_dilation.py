"""À trous (dilated) convolution: a float64 loop reference, Keras's own Conv2D, the receptive
field and cost of a 1-2-4 stack, and the dilated ResNet's equivalence with the strided one."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.analysis.cost import cost_table
from yeehaw_tf.analysis.receptive_field import receptive_field
from yeehaw_tf.layers.conv_blocks import conv, conv_norm_act
from yeehaw_tf.models.classification.resnet import resnet
from yeehaw_tf.models.registry import build


def a_trous_reference(x, w, d):
    """``y[i, j, o] = sum_{a, b, c} x[i + d a, j + d b, c] w[a, b, c, o]`` ('valid', float64)."""
    k = w.shape[0]
    span = d * (k - 1)
    out = np.zeros((x.shape[0] - span, x.shape[1] - span, w.shape[3]))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            patch = x[i : i + span + 1 : d, j : j + span + 1 : d]
            out[i, j] = np.einsum("abc,abco->o", patch, w)
    return out


@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_dilated_conv_matches_the_loop_and_keras_with_gradients(dilation):
    rng = np.random.default_rng(dilation)
    x = rng.normal(size=(1, 11, 11, 2)).astype(np.float32)
    inputs = keras.Input((11, 11, 2))
    ours = keras.Model(
        inputs, conv(inputs, 3, 3, 1, 0, dilation=dilation, name="c", use_bias=False)
    )
    w = ours.get_layer("c").kernel.numpy()
    np.testing.assert_allclose(ours(x)[0], a_trous_reference(x[0].astype(np.float64), w, dilation),
                               atol=1e-5)  # fmt: skip
    reference = keras.layers.Conv2D(3, 3, dilation_rate=dilation, use_bias=False)
    reference.build(x.shape)
    reference.kernel.assign(w)
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        a, b = tf.reduce_sum(ours(xt) ** 2), tf.reduce_sum(reference(xt) ** 2)
    np.testing.assert_allclose(tape.gradient(a, xt), tape.gradient(b, xt), atol=1e-4)
    np.testing.assert_allclose(
        tape.gradient(a, ours.get_layer("c").kernel), tape.gradient(b, reference.kernel), atol=1e-4
    )


@pytest.mark.parametrize("dilation", [1, 2, 4])
def test_conv_norm_act_padded_by_d_is_keras_same_dilated_conv(dilation):
    """The ResNet's unit: 3x3 with padding ``d`` and dilation ``d`` keeps the size, equals
    Keras's ``Conv2D(padding="same", dilation_rate=d)`` (outputs, input and kernel gradients)
    and the loop on the zero-padded input."""
    rng = np.random.default_rng(10 + dilation)
    x = tf.constant(rng.normal(size=(2, 9, 9, 2)).astype(np.float32))
    inputs = keras.Input((9, 9, 2))
    y = conv_norm_act(inputs, 3, 3, 1, dilation, dilation=dilation, norm=None, activation=None,
                      name="u")  # fmt: skip
    ours = keras.Model(inputs, y)
    layer = ours.get_layer("u_conv")
    reference = keras.layers.Conv2D(3, 3, padding="same", dilation_rate=dilation)
    reference.build(x.shape)
    reference.kernel.assign(layer.kernel)
    reference.bias.assign(layer.bias)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out, ref = ours(x), reference(x)
        a, b = tf.reduce_sum(tf.sin(out)), tf.reduce_sum(tf.sin(ref))
    assert out.shape == (2, 9, 9, 3)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    padded = np.pad(x.numpy()[1].astype(np.float64), ((dilation, dilation),) * 2 + ((0, 0),))
    loop = a_trous_reference(padded, layer.kernel.numpy().astype(np.float64), dilation)
    np.testing.assert_allclose(out[1], loop + layer.bias.numpy(), atol=1e-5)
    np.testing.assert_allclose(tape.gradient(a, x), tape.gradient(b, x), atol=1e-5)
    np.testing.assert_allclose(
        tape.gradient(a, layer.kernel), tape.gradient(b, reference.kernel), atol=1e-4
    )


def _stack(dilations):
    inputs = keras.Input((32, 32, 8))
    x = inputs
    for i, d in enumerate(dilations):
        x = conv(x, 8, 3, 1, d, dilation=d, name=f"conv{i + 1}")
    return keras.Model(inputs, x)


def test_a_1_2_4_stack_sees_15_pixels_for_the_cost_of_a_plain_stack():
    plain, dilated = _stack((1, 1, 1)), _stack((1, 2, 4))
    assert [r["size"] for r in receptive_field(plain)] == [3, 5, 7]
    assert [r["size"] for r in receptive_field(dilated)] == [3, 7, 15]
    plain_total, dilated_total = cost_table(plain)[-1], cost_table(dilated)[-1]
    assert plain_total["params"] == dilated_total["params"] == 3 * (9 * 8 * 8 + 8)
    assert plain_total["flops"] == dilated_total["flops"]
    assert dilated.output_shape == plain.output_shape == (None, 32, 32, 8)


@pytest.mark.parametrize("output_stride", [16, 8])
def test_the_a_trous_resnet_computes_the_strided_one_at_every_other_pixel(output_stride):
    """The "algorithme à trous": with the same weights, the dilated network's feature maps,
    subsampled by the stride it removed, are the strided network's exactly."""
    strided = resnet("resnet18", input_shape=(64, 64, 3), features=True)
    dilated = resnet(
        "resnet18", input_shape=(64, 64, 3), features=True, output_stride=output_stride
    )
    assert strided.count_params() == dilated.count_params()
    dilated.set_weights(strided.get_weights())
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype(np.float32)
    a, b = strided(x, training=False), dilated(x, training=False)
    assert b["C5"].shape[1] == 64 // output_stride
    factor = 32 // output_stride
    np.testing.assert_allclose(b["C5"][:, ::factor, ::factor], a["C5"], atol=1e-4)
    np.testing.assert_allclose(b["C3"], a["C3"], atol=1e-5)  # untouched stages


def test_deeplab_variants_share_parameters_and_differ_in_cost():
    models = {s: build(f"deeplab_resnet18_os{s}", 4, (32, 32, 3)) for s in (32, 16, 8)}
    params = {s: m.count_params() for s, m in models.items()}
    flops = {s: cost_table(m)[-1]["flops"] for s, m in models.items()}
    assert len(set(params.values())) == 1
    assert flops[32] < flops[16] < flops[8]
    with pytest.raises(ValueError, match="output_stride"):
        resnet("resnet18", features=True, output_stride=4)


def test_base_width_narrows_the_resnet_and_64_is_the_published_one():
    published = resnet("resnet18", base_width=64)  # torchvision's 11,689,512 trainable
    assert sum(int(np.prod(v.shape)) for v in published.trainable_weights) == 11_689_512
    narrow = resnet("resnet18", input_shape=(64, 64, 3), features=True, base_width=16)
    assert {k: v.shape[-1] for k, v in narrow.output.items()} == {
        "C2": 16, "C3": 32, "C4": 64, "C5": 128
    }  # fmt: skip
    small = [build(f"deeplab_resnet18_os{s}", 4, (64, 64, 3), base_filters=16) for s in (32, 8)]
    assert small[0].count_params() == small[1].count_params() == 852_980  # docs/dilation.md
    assert [m.output_shape for m in small] == [(None, 64, 64, 4)] * 2
    with pytest.raises(ValueError, match="base_width"):
        resnet("resnet18", features=True, base_width=0)
