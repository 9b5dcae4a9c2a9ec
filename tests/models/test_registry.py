"""Every registered model: published parameter counts, and a smoke test at small input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.models import build, list_models


def _trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# Published counts at the canonical configuration (see each family's docstring for the
# reference): torchvision's model tables count trainable weights (batch-norm statistics are
# buffers there); Keras applications count every weight.
TORCHVISION = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnext50_32x4d": 25_028_904,
    "densenet121": 7_978_856,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
    "mobilenet_v2": 3_504_872,
    "googlenet": 6_624_904,
}
HEAVY = {  # over 40M parameters: still run in CI, marked slow
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "wide_resnet50_2": 68_883_240,
    "resnext101_32x8d": 88_791_336,
}
CIFAR = {  # 10 classes, 32x32x3; the reference CIFAR implementations' counts
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "wrn28_10": 36_479_194,
}


@pytest.mark.parametrize("name, expected", sorted(TORCHVISION.items()))
def test_published_parameter_counts(name, expected):
    assert _trainable(build(name, 1000, (224, 224, 3))) == expected


@pytest.mark.slow
@pytest.mark.parametrize("name, expected", sorted(HEAVY.items()))
def test_published_parameter_counts_of_the_large_models(name, expected):
    assert _trainable(build(name, 1000, (224, 224, 3))) == expected


@pytest.mark.parametrize("name, expected", sorted(CIFAR.items()))
def test_cifar_model_parameter_counts(name, expected):
    assert _trainable(build(name, 10, (32, 32, 3))) == expected


def test_lenet5_and_googlenet_with_auxiliary_heads():
    assert build("lenet5", 10, (32, 32, 1)).count_params() == 61_706
    assert _trainable(build("googlenet", 1000, (224, 224, 3), aux_logits=True)) == 13_004_888


@pytest.mark.parametrize(
    "name, reference, shape",
    [
        ("mobilenet_v1", lambda: keras.applications.MobileNet(weights=None), (224, 224, 3)),
        ("mobilenet_v2", lambda: keras.applications.MobileNetV2(weights=None), (224, 224, 3)),
        ("inception_v3", lambda: keras.applications.InceptionV3(weights=None), (299, 299, 3)),
        ("densenet121", lambda: keras.applications.DenseNet121(weights=None), (224, 224, 3)),
    ],
)
def test_all_weights_equal_keras_applications(name, reference, shape):
    """Keras applications built offline (weights=None) as an independent count, batch-norm
    statistics included."""
    assert build(name, 1000, shape).count_params() == reference().count_params()


ROUND_TRIP_MAX_WEIGHTS = 30_000_000
# One model per family and block type: the other variants are the same layers in other numbers
# (depth, width: data in the spec tables), so they export through the same ops. Every variant
# still builds, trains a step and round-trips through .keras in test_registry.py.
EXPORTED = (  # densenet121 exports too (its ops are these models'), but takes 2 min of CI
    "alexnet",
    "googlenet",
    "lenet5",
    "mobilenet_v1",
    "mobilenet_v2",
    "resnet18",  # basic blocks
    "resnet50",  # bottlenecks
    "resnet20",  # CIFAR, option-A shortcuts
    "resnext50_32x4d",  # grouped convolutions
    "small_resnet",
    "vgg11",
    "vgg11_bn",
    "vit_tiny",  # attention, GELU, layer norm, the sine-cosine positions
    "wrn16_4",
)


SMALL_SHAPES = {
    "lenet5": (32, 32, 1),
    "alexnet": (63, 63, 3),
    "inception_v3": (75, 75, 3),
    "small_resnet": (8, 8, 1),
}


@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_one_step_and_round_trips(name, tmp_path):
    shape = SMALL_SHAPES.get(name, (32, 32, 3))
    model = build(name, 5, shape)
    x = tf.random.uniform((2, *shape), seed=1)
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(tf.constant([1, 3]), logits, True)
        )
    assert logits.shape == (2, 5) and bool(tf.reduce_all(tf.math.is_finite(logits)))
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads, strict=True) if g is None]
    assert not missing, missing
    # the .keras round trip writes every weight: for the largest variants (hundreds of MB) it
    # is left to their family's representative, whose layers and config code are the same
    if model.count_params() > ROUND_TRIP_MAX_WEIGHTS and name not in EXPORTED:
        return
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-4)


@pytest.mark.parametrize(
    "name",
    [
        "resnet18",
        "alexnet",
        "lenet5",
        "resnet20",
        "densenet121",
        "mobilenet_v2",
        "vgg11_bn",
        "googlenet",
        "inception_v3",
        "wrn16_4",
        "mobilenet_v1",
    ],
)
def test_backbones_return_feature_maps_by_stride(name):
    shape = {"inception_v3": (139, 139, 3), "alexnet": (127, 127, 3)}.get(name, (64, 64, 3))
    features = build(name, 10, shape, features=True)
    maps = features(tf.zeros((1, *shape)))
    assert isinstance(maps, dict) and len(maps) >= (2 if name == "lenet5" else 3)
    sizes = [maps[k].shape[1] for k in sorted(maps)]
    assert sizes == sorted(sizes, reverse=True)  # deeper levels are coarser


def test_build_refuses_unknown_names_and_options():
    with pytest.raises(ValueError, match="valid names"):
        build("resnet9000")
    with pytest.raises(ValueError, match="does not take option 'activation'"):
        build("resnet18", 10, (32, 32, 3), activation="elu")
    with pytest.raises(ValueError, match="too small"):
        build("resnet18", 10, (16, 16, 3))
