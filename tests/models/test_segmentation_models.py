"""FCN, U-Net, SegNet: shapes, gradients, safe-mode round trips, published parameter counts,
bilinear initialisation, and builtin-op TFLite exports."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.tflite_checks import run_exported
from yeehaw_tf.initializers import BilinearUpsampling, bilinear_kernel
from yeehaw_tf.layers import TransposedConv2D
from yeehaw_tf.models import build, segmenter_names
from yeehaw_tf.models.segmentation.fcn import fcn, fcn_head
from yeehaw_tf.models.segmentation.segnet import segnet
from yeehaw_tf.models.segmentation.unet import unet

SMALL = {
    "unet": {"base_filters": 4},
    "segnet": {"base_filters": 8},
    "fcn8s": {"fc_width": 16, "backbone": "vgg11"},
    "fcn16s": {"fc_width": 16, "backbone": "vgg11"},
    "fcn32s": {"fc_width": 16, "backbone": "vgg11"},
    **{f"deeplab_resnet18_os{s}": {} for s in (32, 16, 8)},
}


@pytest.mark.parametrize("name", segmenter_names())
def test_every_segmenter_trains_one_step_and_round_trips(name, tmp_path):
    model = build(name, 3, (32, 32, 3), **SMALL[name])
    x = tf.random.uniform((2, 32, 32, 3), seed=1)
    labels = tf.random.uniform((2, 32, 32), 0, 3, tf.int32, seed=2)
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, True))
    assert logits.shape == (2, 32, 32, 3) and logits.dtype == tf.float32
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads, strict=True) if g is None]
    assert not missing, missing
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-4)


@pytest.mark.parametrize("name", ["unet", "segnet", "fcn8s", "deeplab_resnet18_os8"])
def test_segmenters_export_to_builtin_tflite(name, tmp_path):
    model = build(name, 3, (32, 32, 3), **SMALL[name])
    x = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype(np.float32)
    run_exported(model, x, tmp_path, atol=1e-4)


def _conv_params(k, c_in, c_out, bias=True):
    return k * k * c_in * c_out + (c_out if bias else 0)


def test_unet_parameter_count_from_the_paper_architecture():
    """The paper's U-Net (64 base filters, no batch norm, 2 classes), counted layer by layer."""
    expected, c_in, widths = 0, 1, [64, 128, 256, 512]
    for w in widths:  # contracting path: two 3x3 convs per level
        expected += _conv_params(3, c_in, w) + _conv_params(3, w, w)
        c_in = w
    expected += _conv_params(3, 512, 1024) + _conv_params(3, 1024, 1024)
    c_in = 1024
    for w in reversed(widths):  # 2x2 up-conv halving channels, concat, two 3x3 convs
        expected += _conv_params(2, c_in, w)
        expected += _conv_params(3, 2 * w, w) + _conv_params(3, w, w)
        c_in = w
    expected += _conv_params(1, 64, 2)
    assert unet(2, (64, 64, 1), norm=None).count_params() == expected == 31_030_658


def test_published_parameter_counts_segnet_and_fcn8s():
    # SegNet paper, Table 6: 29.5M parameters (VGG16-BN encoder and its mirror decoder).
    assert round(segnet(12, (64, 64, 3)).count_params() / 1e6, 1) == 29.5
    # FCN paper, Table 1: FCN-VGG16 has 134M parameters (21 PASCAL classes).
    count = build("fcn8s", 21, (224, 224, 3)).count_params()
    assert round(count / 1e6) == 134
    vgg16 = build("vgg16", 21, (224, 224, 3), features=True)
    assert fcn(vgg16, "fcn8s", 21).count_params() == count == 134_489_759
    # exactly: VGG16 convolutions, fc6 (7x7) and fc7 as convolutions, three score layers and
    # three bias-free upsampling layers (4x4, 4x4, 16x16 kernels), as in the Caffe model
    vgg16_convs = 14_714_688
    heads = _conv_params(7, 512, 4096) + _conv_params(1, 4096, 4096)
    scores = _conv_params(1, 4096, 21) + _conv_params(1, 512, 21) + _conv_params(1, 256, 21)
    upsampling = (4 * 4 + 4 * 4 + 16 * 16) * 21 * 21
    assert count == vgg16_convs + heads + scores + upsampling


def test_bilinear_kernel_matches_fcn_upsample_filt():
    np.testing.assert_allclose(bilinear_kernel(4)[0], [0.0625, 0.1875, 0.1875, 0.0625])
    np.testing.assert_allclose(bilinear_kernel(3)[1], [0.5, 1.0, 0.5])


def test_bilinear_initialised_transposed_conv_interpolates_a_ramp():
    layer = TransposedConv2D(
        1, 4, strides=2, padding="same", use_bias=False, kernel_initializer=BilinearUpsampling()
    )
    ramp = np.arange(8, dtype=np.float32)
    x = np.broadcast_to(ramp[None, :, None], (8, 8, 1))[None]
    y = layer(x).numpy()[0, 4, :, 0]
    # interior: linear interpolation between input samples, half-pixel centred
    expected = np.interp((np.arange(16) + 0.5) / 2 - 0.5, np.arange(8), ramp)
    np.testing.assert_allclose(y[2:-2], expected[2:-2], atol=1e-5)


def test_fcn_variants_fuse_finer_levels_and_refuse_bad_arguments():
    vgg11 = build("vgg11", input_shape=(64, 64, 3), features=True)
    layers32 = {layer.name for layer in fcn(vgg11, "fcn32s", 3, fc_width=8).layers}
    layers8 = {layer.name for layer in fcn(vgg11, "fcn8s", 3, fc_width=8).layers}
    assert "fuse_pool4" not in layers32
    assert {"fuse_pool4", "fuse_pool3", "upscore8"} <= layers8
    with pytest.raises(ValueError, match="divisible by 32"):
        fcn(build("vgg11", input_shape=(48, 48, 3), features=True))
    with pytest.raises(ValueError, match="divisible by 32"):
        build("fcn8s", 3, (48, 48, 3))
    with pytest.raises(ValueError, match="variant"):
        fcn(vgg11, "fcn4s")
    with pytest.raises(ValueError, match="fc_width"):
        fcn(vgg11, fc_width=0)
    with pytest.raises(ValueError, match="C3, C4 and C5"):
        build("fcn8s", 3, (64, 64, 1), backbone="lenet5")
    with pytest.raises(ValueError, match="features=True"):
        fcn(build("vgg11", 3, (64, 64, 3)))
    with pytest.raises(ValueError, match="keras.Model"):
        fcn("vgg16")
    with pytest.raises(ValueError, match="divisible by 2\\*\\*depth"):
        unet(2, (36, 36, 1))
    with pytest.raises(ValueError, match="stages"):
        segnet(2, (32, 32, 3), stages=6)


def test_fcn_on_a_resnet_backbone_scores_c5_directly():
    model = build("fcn8s", 3, (64, 64, 3), backbone="resnet18")
    assert model.name == "fcn8s_resnet18"
    assert model(tf.zeros((1, 64, 64, 3))).shape == (1, 64, 64, 3)
    assert "fc6" not in {layer.name for layer in model.layers}
    resnet18 = build("resnet18", input_shape=(64, 64, 3), features=True)
    direct = fcn(resnet18, "fcn8s", 3, fc_width=None)
    assert direct.count_params() == model.count_params()


def test_fcn_takes_a_built_backbone_and_its_head_takes_the_feature_dict():
    backbone = build("vgg11", input_shape=(64, 64, 3), features=True)
    model = fcn(backbone, "fcn16s", 3, fc_width=8)
    assert model.name == "fcn16s_vgg11"
    backbone.trainable = False  # the backbone is one nested layer: freezing it leaves the head
    trainable = {v.path.split("/")[0] for v in model.trainable_variables}
    head = {"fc6", "fc7", "score_fr", "score_pool4", "upscore_to_pool4", "upscore16"}
    assert trainable == head
    # the head alone, on the backbone's feature dict
    features = {k: keras.Input(v.shape[1:], name=k) for k, v in backbone.output.items()}
    head_only = keras.Model(features, fcn_head(features, "fcn8s", 3, fc_width=None))
    assert head_only.output.shape == (None, 64, 64, 3)
    with pytest.raises(ValueError, match="C3, C4 and C5"):
        fcn_head({"C5": features["C5"]})


def test_segnet_restores_odd_sizes_through_unpooling():
    model = segnet(3, (36, 44, 3), base_filters=8, stages=3)
    assert model(tf.zeros((1, 36, 44, 3))).shape == (1, 36, 44, 3)
