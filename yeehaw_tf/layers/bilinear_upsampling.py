"""Fixed bilinear upsampling, the non-learned upsampling of FCN (Long et al., 2015), and a
resize-to-match layer for fusing coarse predictions with finer skip features."""

from __future__ import annotations

import keras
import tensorflow as tf

from yeehaw_tf.layers.transposed_conv import _dim, _pair


def bilinear_resize(images, size, align_corners: bool = False):
    """Bilinear resize of ``(B, H, W, C)`` to ``size = (height, width)`` (ints or scalar
    tensors), without antialiasing, as TFLite's builtin RESIZE_BILINEAR computes it.

    ``align_corners=False``: half-pixel centres, output pixel ``y`` samples input coordinate
    ``(y + 0.5) * H / height - 0.5`` clamped to the image (``tf.image.resize``,
    ``keras.layers.UpSampling2D(interpolation="bilinear")``). ``align_corners=True``: corner
    pixels line up, ``y`` samples ``y * (H - 1) / (height - 1)`` (Caffe-era FCN code,
    PyTorch's ``align_corners=True``). The output has the input's dtype.
    """
    resized = tf.raw_ops.ResizeBilinear(
        images=images,
        size=tf.stack([size[0], size[1]]),
        align_corners=align_corners,
        half_pixel_centers=not align_corners,
    )
    return tf.cast(resized, images.dtype)


def _mul(length, factor: int):
    return None if length is None else length * factor


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class BilinearUpsampling2D(keras.layers.Layer):
    """Upsamples ``(batch, H, W, C)`` by integer factors with bilinear interpolation: FCN's
    fixed upsampling (Long et al., 2015), equal to
    ``keras.layers.UpSampling2D(size, interpolation="bilinear")`` and ``tf.image.resize``
    with the default ``align_corners=False``.

    Args:
        size: int or pair ``(sy, sx)``, the upsampling factors.
        align_corners: False: half-pixel centres (TF2/Keras); True: corner pixels aligned
            (see ``bilinear_resize``).

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, H * sy, W * sx, C)``.
    """

    def __init__(self, size=2, align_corners: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.size = _pair(size, "size", "BilinearUpsampling2D")
        if not isinstance(align_corners, bool):
            raise ValueError(
                f"BilinearUpsampling2D: align_corners must be True or False, got {align_corners!r}"
            )
        self.align_corners = align_corners

    def call(self, inputs):
        size = (_dim(inputs, 1) * self.size[0], _dim(inputs, 2) * self.size[1])
        return bilinear_resize(inputs, size, self.align_corners)

    def compute_output_shape(self, input_shape):
        batch, h, w, c = input_shape
        return (batch, _mul(h, self.size[0]), _mul(w, self.size[1]), c)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "align_corners": self.align_corners}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class ResizeLike(keras.layers.Layer):
    """Bilinearly resizes ``x`` to the spatial size of ``like``: called on ``[x, like]``. The
    output-stride bookkeeping of FCN-style decoders (upsample a stride-32 score map to the
    stride-16 skip it is added to, whatever the input size), without computing sizes by hand.

    Args:
        align_corners: as for ``BilinearUpsampling2D``.

    Input shapes: ``x`` ``(batch, h, w, C)``, ``like`` ``(batch, H, W, ...)`` (only its
    spatial size is used). Output shape: ``(batch, H, W, C)``.
    """

    def __init__(self, align_corners: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(align_corners, bool):
            raise ValueError(
                f"ResizeLike: align_corners must be True or False, got {align_corners!r}"
            )
        self.align_corners = align_corners

    def call(self, inputs):
        if not isinstance(inputs, list | tuple) or len(inputs) != 2:
            raise ValueError(f"ResizeLike: inputs must be a list [x, like], got {inputs!r}")
        x, like = inputs
        return bilinear_resize(x, (_dim(like, 1), _dim(like, 2)), self.align_corners)

    def compute_output_shape(self, input_shape):
        x, like = input_shape
        return (x[0], like[1], like[2], x[-1])

    def get_config(self):
        return {**super().get_config(), "align_corners": self.align_corners}
