"""Max pooling that remembers where each maximum came from, and the unpooling that puts values
back there (Zeiler & Fergus, 2014, "switches"; Badrinarayanan et al., 2017, SegNet).

Both are built from slices, comparisons, selects, arithmetic and a scatter, so they convert to
TFLite builtins (``tf.nn.max_pool_with_argmax`` does not)."""

from __future__ import annotations

import keras
import tensorflow as tf

from yeehaw_tf.layers.transposed_conv import _check_padding, _dim, _pair


def _pooled_length(length, pool: int, stride: int, padding: str):
    """Output length and padding before, with TensorFlow's conventions: ``valid``:
    ``(L - pool) // stride + 1``, no padding; ``same``: ``ceil(L / stride)``, padded by
    ``max((out - 1) * stride + pool - L, 0)`` split with the smaller half before."""
    if length is None:
        return None, None
    if padding == "valid":
        return (length - pool) // stride + 1, 0
    out = (length + stride - 1) // stride
    total = (out - 1) * stride + pool - length
    total = max(total, 0) if isinstance(total, int) else tf.maximum(total, 0)
    return out, total // 2


def max_pool_with_argmax(inputs, pool_size=(2, 2), strides=None, padding: str = "valid"):
    """Max pooling of ``(B, H, W, C)`` returning ``(pooled, argmax)``, both ``(B, h, w, C)``.

    Equal to ``tf.nn.max_pool_with_argmax(..., include_batch_in_index=False)``: ``argmax`` is
    the int64 flat index ``(y * W + x) * C + c`` of the maximum within its image, and on ties
    the first maximum in row-major window order wins (TensorFlow's CPU kernel does the same).
    The gradient of ``pooled`` reaches only that position, as for ``tf.nn.max_pool``.
    ``same`` padding pads with ``-inf`` (so a window of only ``-inf`` at a padded border may
    report a padded position). Indices are exact while ``H * W * C < 2**63``.
    """
    ph, pw = _pair(pool_size, "pool_size", "max_pool_with_argmax")
    sh, sw = (ph, pw) if strides is None else _pair(strides, "strides", "max_pool_with_argmax")
    padding = _check_padding(padding, "max_pool_with_argmax")
    h, w, c = _dim(inputs, 1), _dim(inputs, 2), _dim(inputs, 3)
    oh, top = _pooled_length(h, ph, sh, padding)
    ow, left = _pooled_length(w, pw, sw, padding)
    if padding == "same":
        # pad to exactly what the windows reach: (out - 1) * stride + pool
        bottom = (oh - 1) * sh + ph - h - top
        right = (ow - 1) * sw + pw - w - left
        pads = [[0, 0], [top, bottom], [left, right], [0, 0]]
        inputs = tf.pad(inputs, pads, constant_values=float("-inf"))
    # flat index of each window's top-left corner, per output position and channel: (h, w, C)
    ys = tf.range(oh, dtype=tf.int64) * sh - tf.cast(top, tf.int64)
    xs = tf.range(ow, dtype=tf.int64) * sw - tf.cast(left, tf.int64)
    w64, c64 = tf.cast(w, tf.int64), tf.cast(c, tf.int64)
    corner = (ys[:, None, None] * w64 + xs[None, :, None]) * c64
    corner = corner + tf.range(c64, dtype=tf.int64)[None, None, :]

    pooled, offset = None, None
    for i in range(ph):
        for j in range(pw):
            tap = inputs[:, i : i + (oh - 1) * sh + 1 : sh, j : j + (ow - 1) * sw + 1 : sw, :]
            tap_offset = (i * w64 + j) * c64
            if pooled is None:
                pooled, offset = tap, tf.zeros_like(tap, dtype=tf.int64) + tap_offset
                continue
            better = tap > pooled  # strictly: an equal later value does not replace the first
            pooled = tf.where(better, tap, pooled)
            offset = tf.where(better, tap_offset, offset)
    return pooled, corner + offset


def max_unpool(values, argmax, output_size):
    """Places each of ``values`` ``(B, h, w, C)`` at the flat position ``argmax`` (same shape,
    the convention of ``max_pool_with_argmax``) of a zero ``(B, H, W, C)`` output, where
    ``output_size = (H, W)``. Values sent to the same position are summed (the adjoint of the
    pooling's selection, as the max-pool gradient does with overlapping windows)."""
    height, width = output_size
    batch, channels = tf.shape(values)[0], tf.shape(values)[3]
    image = tf.cast(height, tf.int64) * tf.cast(width, tf.int64) * tf.cast(channels, tf.int64)
    flat = tf.reshape(argmax, [batch, -1]) + tf.range(tf.cast(batch, tf.int64))[:, None] * image
    scattered = tf.scatter_nd(
        tf.reshape(flat, [-1, 1]),
        tf.reshape(values, [-1]),
        tf.reshape(tf.cast(batch, tf.int64) * image, [1]),
    )
    return tf.reshape(scattered, [batch, height, width, channels])


def _check_4d(shape, layer: str):
    if len(shape) != 4:
        raise ValueError(f"{layer}: expected a 4-D (batch, H, W, C) input, got shape {shape}")
    return shape


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """2-D max pooling that also returns the argmax "switches" for ``MaxUnpooling2D``
    (Zeiler & Fergus, 2014; SegNet, Badrinarayanan et al., 2017).

    Args:
        pool_size: int or pair, the window.
        strides: int or pair; None: ``pool_size``.
        padding: ``"valid"`` (``h = (H - pool) // stride + 1``) or ``"same"``
            (``h = ceil(H / stride)``, windows padded as TensorFlow pads them).

    Input shape: ``(batch, H, W, C)``.
    Output: ``(pooled, argmax)``, each ``(batch, h, w, C)``; ``argmax`` is int64, the flat index
    ``(y * W + x) * C + c`` within the image (``tf.nn.max_pool_with_argmax`` with
    ``include_batch_in_index=False``); ties go to the first maximum in row-major window order.
    """

    def __init__(self, pool_size=2, strides=None, padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        name = "MaxPoolingWithArgmax2D"
        self.pool_size = _pair(pool_size, "pool_size", name)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", name)
        self.padding = _check_padding(padding, name)

    def call(self, inputs):
        return max_pool_with_argmax(inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        batch, h, w, c = _check_4d(input_shape, "MaxPoolingWithArgmax2D")
        oh = _pooled_length(h, self.pool_size[0], self.strides[0], self.padding)[0]
        ow = _pooled_length(w, self.pool_size[1], self.strides[1], self.padding)[0]
        return (batch, oh, ow, c), (batch, oh, ow, c)

    def compute_output_spec(self, inputs):
        shape, _ = self.compute_output_shape(inputs.shape)
        return (
            keras.KerasTensor(shape, dtype=self.compute_dtype),
            keras.KerasTensor(shape, dtype="int64"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class MaxUnpooling2D(keras.layers.Layer):
    """Max unpooling (SegNet, Badrinarayanan et al., 2017; the "switches" of Zeiler & Fergus,
    2014): each value goes back to the position its pooling window's maximum came from, and
    the rest of the output is zero.

    Called on ``[values, argmax]`` or ``[values, argmax, like]``:

    - ``values``: ``(batch, h, w, C)`` features to unpool;
    - ``argmax``: int ``(batch, h, w, C)`` from ``MaxPoolingWithArgmax2D`` (flat indices
      ``(y * W + x) * C + c`` into the unpooled image);
    - ``like`` (optional): any ``(batch, H, W, ...)`` tensor, usually the tensor that was
      pooled; only its spatial size is used. Without it ``(H, W) = (h * sy, w * sx)`` from
      ``size``, which is right only when the pooled size divided evenly; pass ``like`` for odd
      sizes or ``same`` padding (the indices encode ``W``, so the output width must be the
      pre-pool width).

    Positions that several windows picked (strides smaller than the pool) receive the sum.

    Args:
        size: int or pair ``(sy, sx)``, the upsampling factor used without ``like``.
        pool_size, strides, padding: tensorflow-addons' arguments, accepted instead of ``size``
            (``strides`` defaults to ``pool_size``, ``padding`` to ``"same"``); without ``like``
            the output size is then tfa's, ``(h * sy, w * sx)`` for ``"same"`` and
            ``((h - 1) * sy + py, (w - 1) * sx + px)`` for ``"valid"``.

    tfa's call ``layer(updates, mask)`` works too: a second positional argument is the argmax.

    Output shape: ``(batch, H, W, C)``.
    """

    def __init__(self, size=2, pool_size=None, strides=None, padding=None, **kwargs):
        super().__init__(**kwargs)
        name = "MaxUnpooling2D"
        self.size = _pair(size, "size", name)
        tfa = pool_size is not None or strides is not None or padding is not None
        if tfa and self.size != (2, 2):
            raise ValueError(
                f"{name}: give size or tensorflow-addons' pool_size/strides/padding, not both "
                f"(got size={size!r}, pool_size={pool_size!r}, strides={strides!r})"
            )
        if tfa and pool_size is None:
            raise ValueError(f"{name}: strides and padding need pool_size (tfa's arguments)")
        self.pool_size = None if pool_size is None else _pair(pool_size, "pool_size", name)
        self.strides = None
        self.padding = None
        if tfa:
            self.strides = self.pool_size if strides is None else _pair(strides, "strides", name)
            self.padding = _check_padding("same" if padding is None else padding, name)

    def _unpooled(self, h, w):
        """The output size without ``like``, from ``size`` or from tfa's arguments."""
        if self.pool_size is None:
            return tuple(
                None if n is None else n * f for n, f in zip((h, w), self.size, strict=True)
            )
        out = []
        for n, pool, stride in zip((h, w), self.pool_size, self.strides, strict=True):
            if n is None:
                out.append(None)
            elif self.padding == "same":
                out.append(n * stride)
            else:
                out.append((n - 1) * stride + pool)
        return tuple(out)

    def _check_inputs(self, inputs):
        if not isinstance(inputs, list | tuple) or len(inputs) not in (2, 3):
            raise ValueError(
                "MaxUnpooling2D: inputs must be a list [values, argmax] or "
                f"[values, argmax, like], got {inputs!r}"
            )

    def call(self, inputs, argmax=None):
        if argmax is not None:  # tfa's layer(updates, mask)
            inputs = [inputs, argmax]
        self._check_inputs(inputs)
        values, argmax = inputs[0], inputs[1]
        if len(inputs) == 3:
            size = (_dim(inputs[2], 1), _dim(inputs[2], 2))
        else:
            size = self._unpooled(_dim(values, 1), _dim(values, 2))
        return max_unpool(values, tf.cast(argmax, tf.int64), size)

    def compute_output_shape(self, inputs_shape, argmax_shape=None):
        if argmax_shape is not None:
            inputs_shape = [inputs_shape, argmax_shape]
        self._check_inputs(inputs_shape)
        batch, h, w, c = _check_4d(tuple(inputs_shape[0]), "MaxUnpooling2D")
        if len(inputs_shape) == 3:
            like = inputs_shape[2]
            return (batch, like[1], like[2], c)
        return (batch, *self._unpooled(h, w), c)

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }
