"""Region-of-interest pooling layers: thin wrappers over :mod:`yeehaw_tf.ops.roi`.

Each layer is called on a pair ``(features, rois)``: ``features`` a ``[B, H, W, C]`` map (for
:class:`MultiLevelRoIAlign`, a dict ``{"P<l>": map}`` as a neck returns it) and ``rois`` a
``[K, 5]`` tensor of ``(batch_index, x1, y1, x2, y2)`` rows in input-image pixels; the output
is ``[K, out_h, out_w, C]``. The layers have no weights and do not autocast (the RoI
coordinates must not be cast to float16 under a mixed-precision policy); the output has the
features' dtype. All of them convert to TFLite with builtin ops only.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import keras

from yeehaw_tf.ops.levels import level_key, sorted_levels
from yeehaw_tf.ops.roi import multilevel_roi_align, roi_align, roi_pool
from yeehaw_tf.ops.roi.arguments import check_sampling_ratio, check_scale, pair


def _unpack(inputs, layer: str):
    if not isinstance(inputs, list | tuple) or len(inputs) != 2:
        raise ValueError(f"{layer} is called on a pair (features, rois), got {type(inputs)}")
    return inputs


def _output_shape(rois_shape, output_size, channels):
    return (rois_shape[0], *output_size, channels)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class RoIPool(keras.layers.Layer):
    """RoIPool (Girshick, 2015, Fast R-CNN): max-pools each RoI into an
    ``output_size`` grid of integer-aligned bins (torchvision's ``roi_pool`` semantics).

    Args:
        output_size: ``int`` or ``(out_h, out_w)``.
        spatial_scale: ``1 / stride`` of the feature map relative to the RoI coordinates.

    Call on ``(features [B, H, W, C] with static H and W, rois [K, 5])``; returns
    ``[K, out_h, out_w, C]``. See :func:`yeehaw_tf.ops.roi.roi_pool`.
    """

    def __init__(self, output_size, spatial_scale: float = 1.0, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.output_size = pair(output_size)
        self.spatial_scale = check_scale(spatial_scale)

    def call(self, inputs):
        features, rois = _unpack(inputs, "RoIPool")
        return roi_pool(features, rois, self.output_size, self.spatial_scale)

    def compute_output_shape(self, input_shape):
        features_shape, rois_shape = input_shape
        return _output_shape(rois_shape, self.output_size, features_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "spatial_scale": self.spatial_scale,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class RoIAlign(keras.layers.Layer):
    """RoIAlign (He et al., 2017, Mask R-CNN): each of the ``output_size`` bins of a RoI is the
    mean of bilinearly interpolated samples (torchvision's ``roi_align`` semantics).

    Args:
        output_size: ``int`` or ``(out_h, out_w)``.
        spatial_scale: ``1 / stride`` of the feature map relative to the RoI coordinates.
        sampling_ratio: samples per bin side; ``<= 0`` picks ``ceil(roi_size / output_size)``
            per RoI, exactly and exportably (no cap).
        aligned: shift RoIs by -0.5 pixel (pixel-centre alignment, as in Detectron2).

    Call on ``(features [B, H, W, C], rois [K, 5])``; returns ``[K, out_h, out_w, C]``. See
    :func:`yeehaw_tf.ops.roi.roi_align`.
    """

    def __init__(
        self,
        output_size,
        spatial_scale: float = 1.0,
        sampling_ratio: int = -1,
        aligned: bool = False,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.output_size = pair(output_size)
        self.spatial_scale = check_scale(spatial_scale)
        self.sampling_ratio = check_sampling_ratio(sampling_ratio)
        self.aligned = bool(aligned)

    def call(self, inputs):
        features, rois = _unpack(inputs, "RoIAlign")
        return roi_align(
            features,
            rois,
            self.output_size,
            self.spatial_scale,
            self.sampling_ratio,
            self.aligned,
        )

    def compute_output_shape(self, input_shape):
        features_shape, rois_shape = input_shape
        return _output_shape(rois_shape, self.output_size, features_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "spatial_scale": self.spatial_scale,
            "sampling_ratio": self.sampling_ratio,
            "aligned": self.aligned,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class MultiLevelRoIAlign(keras.layers.Layer):
    """RoIAlign over an FPN pyramid (Lin et al., 2017): each RoI is pooled from level
    ``floor(canonical_level + log2(sqrt(area) / canonical_size))``, clipped to the levels
    given, with ``spatial_scale = 1 / 2**level`` (torchvision's ``MultiScaleRoIAlign``).

    Args:
        output_size: ``int`` or ``(out_h, out_w)``.
        sampling_ratio, aligned: as in :class:`RoIAlign`.
        canonical_size, canonical_level: ``224`` and ``4`` in the paper.

    Call on ``(features, rois [K, 5])`` with ``features`` a dict ``{"P2": map, ...}`` for
    consecutive levels, keyed as :mod:`yeehaw_tf.ops.levels` says (a neck's output); returns
    ``[K, out_h, out_w, C]`` in the RoIs' order. See
    :func:`yeehaw_tf.ops.roi.multilevel_roi_align`.
    """

    def __init__(
        self,
        output_size,
        sampling_ratio: int = 2,
        aligned: bool = False,
        canonical_size: float = 224,
        canonical_level: int = 4,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.output_size = pair(output_size)
        self.sampling_ratio = check_sampling_ratio(sampling_ratio)
        self.aligned = bool(aligned)
        if isinstance(canonical_level, bool) or not isinstance(canonical_level, numbers.Integral):
            raise ValueError(f"canonical_level must be an int, got {canonical_level!r}")
        if not canonical_size > 0:
            raise ValueError(f"canonical_size must be > 0, got {canonical_size}")
        self.canonical_size = float(canonical_size)
        self.canonical_level = int(canonical_level)

    def call(self, inputs):
        features, rois = _unpack(inputs, "MultiLevelRoIAlign")
        return multilevel_roi_align(
            features,
            rois,
            self.output_size,
            self.sampling_ratio,
            self.aligned,
            self.canonical_size,
            self.canonical_level,
        )

    def compute_output_shape(self, input_shape):
        features_shape, rois_shape = input_shape
        if not isinstance(features_shape, Mapping) or not features_shape:
            raise ValueError(
                f"MultiLevelRoIAlign: features must be a dict {{'P2': map, ...}}, got "
                f"{features_shape!r}"
            )
        finest = level_key(sorted_levels(features_shape)[0])
        return _output_shape(rois_shape, self.output_size, features_shape[finest][-1])

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "sampling_ratio": self.sampling_ratio,
            "aligned": self.aligned,
            "canonical_size": self.canonical_size,
            "canonical_level": self.canonical_level,
        }
