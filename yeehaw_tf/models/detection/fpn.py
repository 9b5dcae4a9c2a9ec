"""Feature Pyramid Network neck (Lin et al., 2017, "Feature Pyramid Networks for Object
Detection"), with the extra coarse levels of Faster R-CNN FPN and of RetinaNet.

A backbone returns feature maps ``{"C2": ..., "C5": ...}`` where ``C_l`` has stride ``2**l``.
The neck turns them into maps ``{"P2": ..., "P6": ...}`` with the same strides and one width,
``channels`` (256 in the paper). Keys follow :mod:`yeehaw_tf.ops.levels`, so the outputs feed
``pyramid_anchors(h, w, levels=outputs)`` and ``multilevel_roi_align`` as they are. The neck:

* a lateral 1x1 convolution on each ``C_l``, ``min_level <= l <= top`` (``top``: the highest
  backbone level used, ``min(max_level, highest C level given)``);
* the top-down pathway: ``M_top = lateral(C_top)``, and for finer levels
  ``M_l = lateral(C_l) + upsample2x(M_{l+1})`` with nearest-neighbour upsampling;
* a 3x3 output convolution on each ``M_l`` ("to reduce the aliasing effect of upsampling"),
  giving ``P_l``. No normalisation and no activation, as in the paper;
* extra levels ``top < l <= max_level``, each at half the resolution of the previous one:

  - ``"pool"``: ``P_{l+1}`` subsamples ``P_l`` (max pool, kernel 1, stride 2), Faster R-CNN's
    P6 (paper section 4.1; Detectron's ``LastLevelMaxPool``);
  - ``"conv_c5"``: RetinaNet (Lin et al., 2017b, "Focal Loss for Dense Object Detection"):
    ``P6 = conv3x3/2(C5)``, ``P7 = conv3x3/2(ReLU(P6))``;
  - ``"conv_p5"``: the same on ``P5`` instead of ``C5`` (FCOS; torchvision's
    ``LastLevelP6P7`` when the widths agree).

  ``C5``/``P5`` name the top backbone level (``top``), which is level 5 for the usual backbones.
  The stride-2 convolutions pad one pixel on every side (as in the reference implementations,
  so their weights port unchanged), giving ``ceil(n / 2)`` outputs.

Odd sizes: ``M_{l+1}`` may have ``ceil(n / 2)`` (``same``-padded backbones such as ResNet) or
``floor(n / 2)`` (VGG's valid 2x2 pools) rows for the ``n`` rows of ``C_l``; the 2x nearest
upsampling is then cropped, or its last row repeated, to ``n`` rows: output row ``i`` takes row
``min(i // 2, m - 1)`` of the coarser map (``NearestUpsampleLike``).

Typical use::

    backbone = registry.build("resnet50", input_shape=(512, 512, 3), features=True)
    fpn = build_fpn(backbone)                     # Faster/Mask R-CNN: P2..P6, P6 pooled
    retina = build_fpn(backbone, min_level=3, max_level=7, extra_levels="conv_c5")
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
from keras import ops

from yeehaw_tf.ops.levels import BACKBONE, level_key, sorted_levels

EXTRA_LEVELS = ("pool", "conv_c5", "conv_p5")


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class NearestUpsampleLike(keras.layers.Layer):
    """Nearest-neighbour upsampling of ``x`` by ``scale``, cropped or edge-padded to the spatial
    size of ``like``: called on ``[x, like]``. Output pixel ``(i, j)`` is
    ``x[min(i // scale, h - 1), min(j // scale, w - 1)]``, so where ``like`` is exactly
    ``scale`` times larger it equals ``keras.layers.UpSampling2D(scale)``. The top-down
    upsampling of FPN (Lin et al., 2017) for any input size.

    Args:
        scale: positive int, the upsampling factor.

    Input shapes: ``x`` ``(batch, h, w, C)``, ``like`` ``(batch, H, W, ...)`` (only its spatial
    size is used). Output shape: ``(batch, H, W, C)``.
    """

    def __init__(self, scale: int = 2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"NearestUpsampleLike: scale must be a positive int, got {scale!r}")
        self.scale = scale

    def _indices(self, out_length, in_length):
        return ops.minimum(ops.arange(out_length) // self.scale, in_length - 1)

    def call(self, inputs):
        if not isinstance(inputs, list | tuple) or len(inputs) != 2:
            raise ValueError(
                f"NearestUpsampleLike: inputs must be a list [x, like], got {inputs!r}"
            )
        x, like = inputs
        x_shape, like_shape = ops.shape(x), ops.shape(like)
        rows = self._indices(like_shape[1], x_shape[1])
        cols = self._indices(like_shape[2], x_shape[2])
        return ops.take(ops.take(x, rows, axis=1), cols, axis=2)

    def compute_output_shape(self, input_shape):
        x, like = input_shape
        return (x[0], like[1], like[2], x[-1])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _c(level: int) -> str:
    """The key of a backbone level: ``"C3"``."""
    return level_key(level, BACKBONE)


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"fpn: {name} must be an int >= {minimum}, got {value!r}")


def _backbone_levels(features: Mapping, min_level: int, max_level: int) -> int:
    """Validates ``features`` against the levels asked for; returns ``top``, the highest
    backbone level the pyramid uses."""
    if not isinstance(features, Mapping):
        raise ValueError(
            f"fpn: features must be a dict of feature maps keyed 'C2', 'C3', ..., got "
            f"{type(features).__name__}"
        )
    available = set(sorted_levels(features, BACKBONE, strict=False))
    if min_level not in available:
        raise ValueError(
            f"fpn: min_level={min_level} needs feature {_c(min_level)!r}, but the backbone "
            f"gives {list(features)}"
        )
    top = min(max_level, max(available))
    missing = [_c(level) for level in range(min_level, top + 1) if level not in available]
    if missing:
        raise ValueError(
            f"fpn: levels {min_level}..{top} need features {missing}, missing from the "
            f"backbone's {list(features)}"
        )
    for level in range(min_level, top + 1):
        shape = tuple(features[_c(level)].shape)
        if len(shape) != 4:
            raise ValueError(f"fpn: feature {_c(level)} must be (batch, H, W, C), got {shape}")
    for level in range(min_level, top):
        fine, coarse = features[_c(level)].shape, features[_c(level + 1)].shape
        for axis in (1, 2):
            n, m = fine[axis], coarse[axis]
            if n is not None and m is not None and not n // 2 <= m <= (n + 1) // 2:
                raise ValueError(
                    f"fpn: feature {_c(level + 1)} {tuple(coarse)} must have half the spatial "
                    f"size of {_c(level)} {tuple(fine)} (stride 2 between levels)"
                )
    return top


def _check_args(channels, min_level, max_level, extra_levels) -> None:
    _check_int("channels", channels, 1)
    _check_int("min_level", min_level, 1)
    _check_int("max_level", max_level, 1)
    if min_level > max_level:
        raise ValueError(
            f"fpn: min_level must be <= max_level, got min_level={min_level}, max_level={max_level}"
        )
    if extra_levels not in EXTRA_LEVELS:
        raise ValueError(
            f"fpn: extra_levels must be one of {', '.join(EXTRA_LEVELS)}, got {extra_levels!r}"
        )


def fpn_neck(
    features: Mapping,
    channels: int = 256,
    min_level: int = 2,
    max_level: int = 6,
    extra_levels: str = "pool",
    name: str = "fpn",
) -> dict:
    """Applies a new FPN neck to ``features`` (symbolic or eager tensors) and returns
    ``{"P{min_level}": ..., "P{max_level}": ...}``; see the module docstring for the maths.

    Args:
        features: ``{"C{l}": (batch, H_l, W_l, C_l)}`` with stride ``2**l``; it must hold
            ``C{min_level}`` up to ``C{top}``, ``top = min(max_level, highest level given)``.
            Other keys are ignored.
        channels: width of every output level (256 in the paper).
        min_level, max_level: the pyramid's finest and coarsest levels.
        extra_levels: how levels above ``top`` are made: ``"pool"``, ``"conv_c5"`` or
            ``"conv_p5"``.
        name: prefix of the layer names.

    Returns: ``{"P{l}": (batch, H_l, W_l, channels)}``; for ``l <= top`` ``P_l`` has the size
    of ``C_l``, above it ``ceil`` of half the previous level's size.
    """
    _check_args(channels, min_level, max_level, extra_levels)
    top = _backbone_levels(features, min_level, max_level)
    levels = range(min_level, top + 1)
    lateral = {
        level: keras.layers.Conv2D(channels, 1, name=f"{name}_lateral{level}")(features[_c(level)])
        for level in levels
    }
    merged = {top: lateral[top]}
    for level in reversed(levels[:-1]):
        up = NearestUpsampleLike(2, name=f"{name}_upsample{level}")(
            [merged[level + 1], lateral[level]]
        )
        merged[level] = keras.layers.Add(name=f"{name}_merge{level}")([lateral[level], up])
    outputs = {}
    for level in levels:
        output = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_output{level}")
        outputs[level_key(level)] = output(merged[level])
    for level in range(top + 1, max_level + 1):
        previous = outputs[level_key(level - 1)]
        if extra_levels == "pool":
            x = keras.layers.MaxPooling2D(1, 2, name=f"{name}_pool{level}")(previous)
        else:
            if level > top + 1:
                source = keras.layers.ReLU(name=f"{name}_relu{level - 1}")(previous)
            else:
                source = features[_c(top)] if extra_levels == "conv_c5" else previous
            x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad{level}")(source)
            x = keras.layers.Conv2D(channels, 3, strides=2, name=f"{name}_extra{level}")(x)
        outputs[level_key(level)] = x
    return outputs


def build_fpn(
    backbone: keras.Model,
    channels: int = 256,
    min_level: int = 2,
    max_level: int = 6,
    extra_levels: str = "pool",
    name: str | None = None,
) -> keras.Model:
    """A model ``images -> {"P{min_level}": ..., "P{max_level}": ...}``: ``backbone`` (a model
    returning ``{"C{l}": ...}``, e.g. ``registry.build(..., features=True)``; it stays one
    nested layer, so ``backbone.trainable = False`` freezes it) followed by ``fpn_neck``.

    Defaults give Faster/Mask R-CNN's pyramid (P2..P6, P6 pooled); RetinaNet's is
    ``min_level=3, max_level=7, extra_levels="conv_c5"``. ``P_l`` has stride ``2**l``: its
    size is the size of ``C_l`` for backbone levels and ``ceil(n / 2)`` of the previous level
    above them.

    Input shape: the backbone's, ``(batch, H, W, 3)``. Output: a dict of
    ``(batch, H_l, W_l, channels)``.
    """
    _check_args(channels, min_level, max_level, extra_levels)
    if not isinstance(backbone, keras.Model):
        raise ValueError(f"build_fpn: backbone must be a keras.Model, got {type(backbone)}")
    if len(backbone.inputs) != 1:
        raise ValueError(
            f"build_fpn: backbone must take one input, it takes {len(backbone.inputs)}"
        )
    images = keras.Input(backbone.inputs[0].shape[1:], name="images")
    features = backbone(images)
    if not isinstance(features, Mapping):
        raise ValueError(
            f"build_fpn: backbone {backbone.name!r} must return a dict of feature maps "
            "(build it with features=True)"
        )
    outputs = fpn_neck(features, channels, min_level, max_level, extra_levels)
    model_name = name or f"{backbone.name.removesuffix('_features')}_fpn"
    return keras.Model(images, outputs, name=model_name)
