"""CIE Lab colour space and the quantised ab space of colorization as classification.

Zhang, Isola & Efros 2016, "Colorful Image Colorization": the network sees the lightness ``L``
and predicts a distribution over quantised ``ab`` bins (section 2.1), decoded with the
"annealed mean" (section 2.3, eq. 5).

The conversion is sRGB (IEC 61966-2-1) -> linear RGB -> CIE XYZ (D65) -> CIE Lab::

    linear  = c / 12.92                       if c <= 0.04045
              ((c + 0.055) / 1.055) ** 2.4    otherwise
    XYZ     = M @ linear                      (M: the sRGB primaries under D65)
    L       = 116 f(Y / Yn) - 16
    a       = 500 (f(X / Xn) - f(Y / Yn))
    b       = 200 (f(Y / Yn) - f(Z / Zn))
    f(t)    = t ** (1/3)                      if t > (6/29) ** 3
              t / (3 (6/29) ** 2) + 4/29      otherwise

with the D65 white ``(Xn, Yn, Zn) = (0.95047, 1, 1.08883)``. ``lab_to_rgb`` inverts each step
(``f^-1(u) = u ** 3`` if ``u > 6/29``, else ``3 (6/29) ** 2 (u - 4/29)``; companding
``12.92 c`` if ``c <= 0.0031308``, else ``1.055 c ** (1/2.4) - 0.055``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import tensorflow as tf

# linear sRGB -> CIE XYZ: the sRGB primaries under D65 (IEC 61966-2-1)
RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
XYZ_TO_RGB = np.linalg.inv(RGB_TO_XYZ)
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])  # (Xn, Yn, Zn)
_DELTA = 6.0 / 29.0


def _last_axis(x: tf.Tensor, size: int, name: str) -> None:
    if x.shape.rank is None or x.shape.rank < 1 or x.shape[-1] != size:
        raise ValueError(f"{name} must have shape [..., {size}], got {x.shape}")


def _check_positive(value, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def rgb_to_lab(rgb) -> tf.Tensor:
    """sRGB in [0, 1], ``[..., 3]`` -> CIE Lab ``[..., 3]`` (L in [0, 100]; a, b about
    [-86, 98] and [-108, 95] over the sRGB gamut), float32. See the module docstring."""
    rgb = tf.cast(tf.convert_to_tensor(rgb), tf.float32)
    _last_axis(rgb, 3, "rgb")
    return _rgb_to_lab(rgb)


def _rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """The conversion in ``rgb``'s float dtype."""
    dtype = rgb.dtype
    # the unused branch of each tf.where is kept finite (pow of a negative, a cube root of 0)
    # so that no NaN leaks into gradients
    power = tf.pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4)
    linear = tf.where(rgb <= 0.04045, rgb / 12.92, power)
    xyz = tf.linalg.matvec(tf.constant(RGB_TO_XYZ, dtype), linear)
    t = xyz / tf.constant(WHITE_D65, dtype)
    epsilon = _DELTA**3
    f = tf.where(
        t > epsilon,
        tf.pow(tf.maximum(t, epsilon), 1.0 / 3.0),
        t / (3.0 * _DELTA**2) + 4.0 / 29.0,
    )
    fx, fy, fz = tf.unstack(f, axis=-1)
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab) -> tf.Tensor:
    """CIE Lab ``[..., 3]`` -> sRGB ``[..., 3]`` clipped to [0, 1], float32: the inverse of
    :func:`rgb_to_lab` inside the gamut (out-of-gamut colours are clipped per channel)."""
    lab = tf.cast(tf.convert_to_tensor(lab), tf.float32)
    _last_axis(lab, 3, "lab")
    lightness, a, b = tf.unstack(lab, axis=-1)
    fy = (lightness + 16.0) / 116.0
    f = tf.stack([fy + a / 500.0, fy, fy - b / 200.0], axis=-1)
    xyz = tf.where(f > _DELTA, f**3, 3.0 * _DELTA**2 * (f - 4.0 / 29.0))
    xyz *= tf.constant(WHITE_D65, tf.float32)
    linear = tf.linalg.matvec(tf.constant(XYZ_TO_RGB, tf.float32), xyz)
    power = 1.055 * tf.pow(tf.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055
    rgb = tf.where(linear <= 0.0031308, 12.92 * linear, power)
    return tf.clip_by_value(rgb, 0.0, 1.0)


def ab_bin_centres(step: float = 10.0, limit: float = 110.0) -> np.ndarray:
    """The in-gamut quantised ab bins, ``[K, 2]`` float32 ``(a, b)`` centres.

    The square ``[-limit, limit)^2`` is cut into cells of side ``step`` (centres at
    ``-limit + step/2 + i * step``, ``ceil(2 limit / step)`` per axis, the last one reaching
    past ``limit`` when ``step`` does not divide ``2 limit``); a cell is kept if some sRGB
    colour falls in it. The colours tested are the surface of the RGB cube at 256 levels per
    channel (the gamut's extreme ab, the primaries and secondaries among them, lie on the
    cube's surface) and its interior on a 17-level grid, converted in float64. Rows are
    ordered by ``a``, then ``b``.

    Zhang et al. report Q = 313 in-gamut bins for ``step=10`` (section 2.1; their centres lie
    on multiples of 10). This rule keeps **268** for ``step=10, limit=110`` (checked in
    ``tests/ops/test_color.py``): the same cells as all 2^24 8-bit colours fill (checked once
    in float64). Testing only the cell centres, at 21 lightnesses, would keep 215 and drop the
    primaries' cells. The paper's 313 cannot be had from the sRGB gamut alone.

    Computed eagerly on the CPU (also when called while a ``tf.function`` is traced), once per
    ``(step, limit)``: a constant, identical on every machine.
    """
    step = _check_positive(step, "step")
    limit = _check_positive(limit, "limit")
    cells = math.ceil(2.0 * limit / step - 1e-9)
    return _in_gamut_cells(step, limit, cells).copy()


@functools.lru_cache(maxsize=8)
def _in_gamut_cells(step: float, limit: float, cells: int) -> np.ndarray:
    with tf.init_scope(), tf.device("/cpu:0"):
        ab = _rgb_to_lab(tf.constant(_cube_colours(), tf.float64)).numpy()[:, 1:]
    index = np.floor((ab + limit) / step).astype(np.int64)
    index = index[np.all((index >= 0) & (index < cells), axis=-1)]
    kept = np.unique(index[:, 0] * cells + index[:, 1])  # sorted: by a, then b
    centres = -limit + step / 2.0 + step * np.stack([kept // cells, kept % cells], axis=-1)
    return centres.astype(np.float32)


def _cube_colours() -> np.ndarray:
    """``[N, 3]`` RGB colours: the cube's six faces at 256 levels and its interior at 17."""
    levels = np.linspace(0.0, 1.0, 256)
    u, v = (x.ravel() for x in np.meshgrid(levels, levels, indexing="ij"))
    faces = []
    for axis in range(3):
        for value in (0.0, 1.0):
            columns = [u, v]
            columns.insert(axis, np.full_like(u, value))
            faces.append(np.stack(columns, axis=-1))
    coarse = np.linspace(0.0, 1.0, 17)
    interior = np.stack(np.meshgrid(coarse, coarse, coarse, indexing="ij"), -1).reshape(-1, 3)
    return np.concatenate([*faces, interior])


def _centres(centres) -> tf.Tensor:
    centres = tf.cast(tf.convert_to_tensor(centres), tf.float32)
    if centres.shape.rank != 2 or centres.shape[-1] != 2:
        raise ValueError(f"centres must have shape [K, 2] (a, b), got {centres.shape}")
    return centres


def quantize_ab(ab, centres) -> tf.Tensor:
    """The index of the nearest centre (Euclidean) of each ``ab`` ``[..., 2]``: int32 ``[...]``.

    ``centres``: ``[K, 2]``, e.g. :func:`ab_bin_centres`. Zhang et al. train on a soft encoding
    (the 5 nearest bins, Gaussian-weighted); this is its hard, 1-nearest form.
    """
    ab = tf.cast(tf.convert_to_tensor(ab), tf.float32)
    _last_axis(ab, 2, "ab")
    centres = _centres(centres)
    flat = tf.reshape(ab, [-1, 2])
    # |ab - c|^2 = |ab|^2 - 2 ab.c + |c|^2; |ab|^2 is the same for every centre
    distance = tf.reduce_sum(centres**2, axis=-1) - 2.0 * tf.matmul(flat, centres, transpose_b=True)
    index = tf.argmin(distance, axis=-1, output_type=tf.int32)
    index = tf.reshape(index, tf.shape(ab)[:-1])
    index.set_shape(ab.shape[:-1])
    return index


def ab_from_distribution(probabilities, centres, temperature: float = 0.38) -> tf.Tensor:
    """The annealed mean of Zhang et al. (eq. 5): ``[..., K]`` bin probabilities ->
    ``[..., 2]`` ab.

    ``H(Z) = sum_q f_T(Z)_q c_q`` with ``f_T(Z)_q = exp(log Z_q / T) / sum_r exp(log Z_r / T)``:
    the distribution re-sharpened by the temperature and re-normalised, then its mean. ``T=1``
    is the plain mean (desaturated), ``T -> 0`` the mode (vivid, spatially inconsistent); the
    paper uses 0.38. For network logits ``x``, ``softmax(x)`` passed here equals decoding
    ``softmax(x / T)``.
    """
    temperature = _check_positive(temperature, "temperature")
    probabilities = tf.cast(tf.convert_to_tensor(probabilities), tf.float32)
    centres = _centres(centres)
    if probabilities.shape.rank is None or probabilities.shape.rank < 1:
        raise ValueError(f"probabilities must have shape [..., K], got {probabilities.shape}")
    if centres.shape[0] is not None and probabilities.shape[-1] not in (None, centres.shape[0]):
        raise ValueError(
            f"probabilities must have one value per centre ([..., {centres.shape[0]}]), got "
            f"{probabilities.shape}"
        )
    log_p = tf.math.log(tf.maximum(probabilities, np.finfo(np.float32).tiny))
    annealed = tf.nn.softmax(log_p / temperature, axis=-1)
    return tf.tensordot(annealed, centres, axes=1)
