"""GoogLeNet (Szegedy et al., 2015) and Inception v3 (Szegedy et al., 2016).

- ``googlenet`` follows torchvision: every convolution is conv-BN-ReLU, and (a torchvision
  quirk kept for its count) the "5x5" branch uses a 3x3 kernel. 6,624,904 trainable parameters
  at 224x224x3 with 1000 classes; with the two auxiliary classifiers, 13,004,888.
- ``inception_v3`` follows ``keras.applications.InceptionV3`` (batch norm without ``gamma``):
  23,851,784 parameters at 299x299x3 with 1000 classes (all weights, as Keras counts them).
  Its auxiliary classifier (on the 17x17 grid, as in the paper and torchvision) is optional.

With ``aux_logits=True`` the model returns ``[logits, aux_1, ...]`` (weight the auxiliary
losses by 0.3 in training, as the paper does, e.g. ``model.compile(loss=[ce, ce, ce],
loss_weights=[1, 0.3, 0.3])``) and :func:`without_aux` gives the inference model -- the same
layers with the main output only -- to evaluate and export. GoogLeNet's auxiliary heads pool
the 14x14 maps to 4x4 with a 5x5/3 window (torchvision uses adaptive pooling; the parameters
are the same).
"""

from __future__ import annotations

import keras

from yeehaw_tf.layers import Dropout
from yeehaw_tf.layers.conv_blocks import conv_norm_act, pool
from yeehaw_tf.models.validation import check_classifier_args

# in_channels -> (1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection), by module name
_GOOGLENET = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _cba(x, filters, kernel, stride=1, padding=0, *, name, scale=True):
    return conv_norm_act(x, filters, kernel, stride, padding, name=name, bn_scale=scale)


def _googlenet_module(x, spec, name):
    c1, r3, c3, r5, c5, proj = spec
    b1 = _cba(x, c1, 1, name=f"{name}_1x1")
    b2 = _cba(_cba(x, r3, 1, name=f"{name}_3x3_reduce"), c3, 3, 1, 1, name=f"{name}_3x3")
    b3 = _cba(_cba(x, r5, 1, name=f"{name}_5x5_reduce"), c5, 3, 1, 1, name=f"{name}_5x5")
    b4 = pool(x, "max", 3, 1, 1, name=f"{name}_pool", ceil_mode=True)
    b4 = _cba(b4, proj, 1, name=f"{name}_pool_proj")
    return keras.layers.Concatenate(name=f"{name}_concat")([b1, b2, b3, b4])


def _googlenet_aux(x, num_classes, name):
    """torchvision's InceptionAux: 4x4 average pool, 1x1 conv 128, FC 1024, dropout 0.7, FC."""
    size = x.shape[1]
    x = pool(x, "avg", size - 3 * (size // 4), size // 4, name=f"{name}_pool")  # to 4x4 at 14x14
    x = _cba(x, 128, 1, name=f"{name}_conv")
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(1024, activation="relu", name=f"{name}_fc1")(x)
    x = Dropout(0.7, name=f"{name}_dropout")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name=f"{name}_logits")(x)


def googlenet(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    aux_logits: bool = False,
    dropout: float = 0.2,
    features: bool = False,
) -> keras.Model:
    """GoogLeNet: an aggressive stem (7x7/2 conv, pool, 1x1, 3x3, pool), nine Inception
    modules, global average pooling, one FC layer; auxiliary classifiers after 4a and 4d."""
    check_classifier_args(num_classes, input_shape, min_size=32)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = _cba(inputs, 64, 7, 2, 3, name="conv1")
    x = pool(x, "max", 3, 2, name="pool1", ceil_mode=True)
    maps = {"C2": x}
    x = _cba(x, 64, 1, name="conv2")
    x = _cba(x, 192, 3, 1, 1, name="conv3")
    x = pool(x, "max", 3, 2, name="pool2", ceil_mode=True)
    aux = []
    for module in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
        if module == "4a":
            maps["C3"] = x
            x = pool(x, "max", 3, 2, name="pool3", ceil_mode=True)
        if module == "5a":
            maps["C4"] = x
            x = pool(x, "max", 2, 2, name="pool4", ceil_mode=True)
        x = _googlenet_module(x, _GOOGLENET[module], f"inception{module}")
        if aux_logits and module in ("4a", "4d") and x.shape[1] and x.shape[1] >= 4:
            aux.append(_googlenet_aux(x, num_classes, f"aux{len(aux) + 1}"))
    maps["C5"] = x
    if features:
        return keras.Model(inputs, maps, name="googlenet_features")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = Dropout(dropout, name="dropout")(x) if dropout else x
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, [logits, *aux] if aux_logits else logits, name="googlenet")


def _v3_a(x, pool_features, name):  # 35x35: the 5x5 branch and a 5x5 factorised as two 3x3
    b1 = _cba(x, 64, 1, padding="same", name=f"{name}_1x1", scale=False)
    b5 = _cba(x, 48, 1, padding="same", name=f"{name}_5x5_1", scale=False)
    b5 = _cba(b5, 64, 5, padding="same", name=f"{name}_5x5_2", scale=False)
    b3 = _cba(x, 64, 1, padding="same", name=f"{name}_3x3dbl_1", scale=False)
    b3 = _cba(b3, 96, 3, padding="same", name=f"{name}_3x3dbl_2", scale=False)
    b3 = _cba(b3, 96, 3, padding="same", name=f"{name}_3x3dbl_3", scale=False)
    bp = keras.layers.AveragePooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    bp = _cba(bp, pool_features, 1, padding="same", name=f"{name}_pool_proj", scale=False)
    return keras.layers.Concatenate(name=name)([b1, b5, b3, bp])


def _v3_reduction_a(x, name):  # grid reduction 35 -> 17: strided convs beside a pool
    b3 = _cba(x, 384, 3, 2, "valid", name=f"{name}_3x3", scale=False)
    bd = _cba(x, 64, 1, padding="same", name=f"{name}_3x3dbl_1", scale=False)
    bd = _cba(bd, 96, 3, padding="same", name=f"{name}_3x3dbl_2", scale=False)
    bd = _cba(bd, 96, 3, 2, "valid", name=f"{name}_3x3dbl_3", scale=False)
    bp = pool(x, "max", 3, 2, name=f"{name}_pool")
    return keras.layers.Concatenate(name=name)([b3, bd, bp])


def _v3_b(x, width, name):  # 17x17: 7x7 factorised into 1x7 and 7x1
    s = {"padding": "same", "scale": False}
    b1 = _cba(x, 192, 1, name=f"{name}_1x1", **s)
    b7 = _cba(x, width, 1, name=f"{name}_7x7_1", **s)
    b7 = _cba(b7, width, (1, 7), name=f"{name}_7x7_2", **s)
    b7 = _cba(b7, 192, (7, 1), name=f"{name}_7x7_3", **s)
    bd = _cba(x, width, 1, name=f"{name}_7x7dbl_1", **s)
    for i, (k, f) in enumerate((((7, 1), width), ((1, 7), width), ((7, 1), width), ((1, 7), 192))):
        bd = _cba(bd, f, k, name=f"{name}_7x7dbl_{i + 2}", **s)
    bp = keras.layers.AveragePooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    bp = _cba(bp, 192, 1, name=f"{name}_pool_proj", **s)
    return keras.layers.Concatenate(name=name)([b1, b7, bd, bp])


def _v3_reduction_b(x, name):  # grid reduction 17 -> 8
    s = {"padding": "same", "scale": False}
    b3 = _cba(x, 192, 1, name=f"{name}_3x3_1", **s)
    b3 = _cba(b3, 320, 3, 2, "valid", name=f"{name}_3x3_2", scale=False)
    b7 = _cba(x, 192, 1, name=f"{name}_7x7x3_1", **s)
    b7 = _cba(b7, 192, (1, 7), name=f"{name}_7x7x3_2", **s)
    b7 = _cba(b7, 192, (7, 1), name=f"{name}_7x7x3_3", **s)
    b7 = _cba(b7, 192, 3, 2, "valid", name=f"{name}_7x7x3_4", scale=False)
    bp = pool(x, "max", 3, 2, name=f"{name}_pool")
    return keras.layers.Concatenate(name=name)([b3, b7, bp])


def _v3_c(x, name):  # 8x8: expanded filter banks (1x3 and 3x1 side by side)
    s = {"padding": "same", "scale": False}
    b1 = _cba(x, 320, 1, name=f"{name}_1x1", **s)
    b3 = _cba(x, 384, 1, name=f"{name}_3x3_1", **s)
    b3 = keras.layers.Concatenate(name=f"{name}_3x3")(
        [
            _cba(b3, 384, (1, 3), name=f"{name}_3x3_2a", **s),
            _cba(b3, 384, (3, 1), name=f"{name}_3x3_2b", **s),
        ]
    )
    bd = _cba(x, 448, 1, name=f"{name}_3x3dbl_1", **s)
    bd = _cba(bd, 384, 3, name=f"{name}_3x3dbl_2", **s)
    bd = keras.layers.Concatenate(name=f"{name}_3x3dbl")(
        [
            _cba(bd, 384, (1, 3), name=f"{name}_3x3dbl_3a", **s),
            _cba(bd, 384, (3, 1), name=f"{name}_3x3dbl_3b", **s),
        ]
    )
    bp = keras.layers.AveragePooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    bp = _cba(bp, 192, 1, name=f"{name}_pool_proj", **s)
    return keras.layers.Concatenate(name=name)([b1, b3, bd, bp])


def _v3_aux(x, num_classes, name):
    """The auxiliary head on the 17x17 grid: 5x5/3 average pool, 1x1 conv 128, 5x5 conv 768,
    global pool, FC (torchvision's InceptionAux)."""
    x = pool(x, "avg", 5, 3, name=f"{name}_pool")
    x = _cba(x, 128, 1, name=f"{name}_conv0", scale=False)
    x = _cba(x, 768, min(5, x.shape[1] or 5), name=f"{name}_conv1", scale=False)
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name=f"{name}_logits")(x)


def inception_v3(
    num_classes: int = 1000,
    input_shape=(299, 299, 3),
    aux_logits: bool = False,
    features: bool = False,
) -> keras.Model:
    """Inception v3: batch norm everywhere, 5x5 factorised into two 3x3, n x n into 1 x n and
    n x 1, grid reduction by parallel strided conv and pool, an auxiliary head."""
    check_classifier_args(num_classes, input_shape, min_size=75)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = _cba(inputs, 32, 3, 2, "valid", name="stem1", scale=False)
    x = _cba(x, 32, 3, 1, "valid", name="stem2", scale=False)
    x = _cba(x, 64, 3, padding="same", name="stem3", scale=False)
    x = pool(x, "max", 3, 2, name="stem_pool1")
    maps = {"C2": x}
    x = _cba(x, 80, 1, 1, "valid", name="stem4", scale=False)
    x = _cba(x, 192, 3, 1, "valid", name="stem5", scale=False)
    x = pool(x, "max", 3, 2, name="stem_pool2")
    for i, pool_features in enumerate((32, 64, 64)):
        x = _v3_a(x, pool_features, f"mixed{i}")
    maps["C3"] = x
    x = _v3_reduction_a(x, "mixed3")
    for i, width in enumerate((128, 160, 160, 192)):
        x = _v3_b(x, width, f"mixed{4 + i}")
    maps["C4"] = x
    aux = _v3_aux(x, num_classes, "aux") if aux_logits else None
    x = _v3_reduction_b(x, "mixed8")
    x = _v3_c(x, "mixed9")
    x = _v3_c(x, "mixed10")
    maps["C5"] = x
    if features:
        return keras.Model(inputs, maps, name="inception_v3_features")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, [logits, aux] if aux_logits else logits, name="inception_v3")


def without_aux(model: keras.Model) -> keras.Model:
    """The inference model of an ``aux_logits=True`` network: same layers and weights, main
    output only (the auxiliary heads are absent from inference and exports)."""
    outputs = model.outputs
    return keras.Model(model.inputs, outputs[0], name=model.name) if len(outputs) > 1 else model
