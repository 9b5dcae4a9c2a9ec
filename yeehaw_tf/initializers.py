"""Weight initialisers from Glorot & Bengio (2010) and He et al. (2015), from their formulas.

Fans: a Dense kernel ``(in, out)`` has ``fan_in = in``, ``fan_out = out``; a convolution kernel
``(k1, ..., kd, in, out)`` multiplies both by the receptive field ``k1 * ... * kd``.

Gains (``nonlinearity``): ``linear`` 1, ``relu`` sqrt(2), ``leaky_relu`` sqrt(2 / (1 + a^2)) for
negative slope ``a``, ``tanh`` 5/3 -- the factor that keeps activation variance constant
through the non-linearity.

- Xavier: ``std = gain * sqrt(2 / (fan_in + fan_out))``; uniform bound ``sqrt(3) * std``.
- Kaiming: ``std = gain / sqrt(fan)`` with ``fan`` = ``fan_in`` (``mode="fan_in"``, preserves the
  forward variance) or ``fan_out`` (preserves the backward variance); uniform bound
  ``sqrt(3) * std``.

The normal variants draw from an untruncated normal, as the papers (and PyTorch) do. Keras's
``GlorotNormal``/``HeNormal`` draw from a normal truncated at two standard deviations and
rescaled to the same variance; ``truncated=True`` reproduces that.
"""

from __future__ import annotations

import math
import random

import keras
import numpy as np

# Standard deviation of a unit normal truncated to [-2, 2]; Keras divides by it.
_TRUNCATED_STD = 0.87962566103423978
GAINS = ("linear", "relu", "leaky_relu", "tanh")
MODES = ("fan_in", "fan_out")


def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a kernel shape (see the module docstring)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) < 1:
        raise ValueError(f"cannot compute fans of a scalar shape {shape}")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def gain(nonlinearity: str, negative_slope: float = 0.01) -> float:
    """The recommended gain for a non-linearity (see the module docstring)."""
    if nonlinearity == "linear":
        return 1.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + negative_slope**2))
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    raise ValueError(f"nonlinearity must be one of {', '.join(GAINS)}, got {nonlinearity!r}")


class _VarianceScaling(keras.initializers.Initializer):
    """Shared machinery: a zero-mean distribution with a computed standard deviation."""

    distribution = "normal"

    def __init__(
        self,
        nonlinearity: str = "linear",
        negative_slope: float = 0.01,
        truncated: bool = False,
        seed: int | None = None,
    ):
        gain(nonlinearity, negative_slope)  # validates
        self.nonlinearity = nonlinearity
        self.negative_slope = float(negative_slope)
        self.truncated = bool(truncated)
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"seed must be an integer or None, got {seed!r}")
        self.seed = seed
        # Like Keras: an unseeded initializer draws its seed from Python's random module, which
        # keras.utils.set_random_seed seeds.
        self._seed = seed if seed is not None else random.randint(1, 10**9)

    def stddev(self, shape) -> float:
        raise NotImplementedError

    def __call__(self, shape, dtype=None):
        std = self.stddev(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0) * std
            return keras.random.uniform(shape, -limit, limit, dtype=dtype, seed=self._seed)
        if self.truncated:
            return keras.random.truncated_normal(
                shape, stddev=std / _TRUNCATED_STD, dtype=dtype, seed=self._seed
            )
        return keras.random.normal(shape, stddev=std, dtype=dtype, seed=self._seed)

    def get_config(self):
        return {
            "nonlinearity": self.nonlinearity,
            "negative_slope": self.negative_slope,
            "truncated": self.truncated,
            "seed": self.seed,
        }


class _Xavier(_VarianceScaling):
    def stddev(self, shape) -> float:
        fan_in, fan_out = compute_fans(shape)
        return gain(self.nonlinearity, self.negative_slope) * math.sqrt(2.0 / (fan_in + fan_out))


class _Kaiming(_VarianceScaling):
    def __init__(
        self,
        mode: str = "fan_in",
        nonlinearity: str = "relu",
        negative_slope: float = 0.01,
        truncated: bool = False,
        seed: int | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        super().__init__(nonlinearity, negative_slope, truncated, seed)

    def stddev(self, shape) -> float:
        fan_in, fan_out = compute_fans(shape)
        fan = fan_in if self.mode == "fan_in" else fan_out
        return gain(self.nonlinearity, self.negative_slope) / math.sqrt(fan)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class XavierUniform(_Xavier):
    """Glorot & Bengio (2010): ``U(-b, b)``, ``b = gain * sqrt(6 / (fan_in + fan_out))``."""

    distribution = "uniform"


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class XavierNormal(_Xavier):
    """Glorot & Bengio (2010): ``N(0, gain^2 * 2 / (fan_in + fan_out))``."""


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class KaimingUniform(_Kaiming):
    """He et al. (2015): ``U(-b, b)``, ``b = gain * sqrt(3 / fan)``."""

    distribution = "uniform"


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class KaimingNormal(_Kaiming):
    """He et al. (2015): ``N(0, gain^2 / fan)``."""


def bilinear_kernel(size: int):
    """The ``size x size`` bilinear interpolation filter (Long et al.'s FCN ``upsample_filt``):
    ``(1 - |i - c| / f) * (1 - |j - c| / f)`` with ``f = ceil(size / 2)`` and centre
    ``c = f - 1`` (odd size) or ``f - 0.5`` (even size). A transposed convolution of stride
    ``f`` with this kernel upsamples bilinearly."""
    factor = (size + 1) // 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.arange(size, dtype=np.float64)
    line = 1.0 - np.abs(og - centre) / factor
    return np.outer(line, line)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class BilinearUpsampling(keras.initializers.Initializer):
    """Initialises a transposed-convolution kernel ``(k, k, filters, in_channels)`` to bilinear
    upsampling: :func:`bilinear_kernel` from each input channel to the output channel of the
    same index, zero between different channels (FCN's initialisation of its upsampling
    layers). Needs ``filters == in_channels``."""

    def __call__(self, shape, dtype=None):
        kh, kw, filters, channels = (int(d) for d in shape)
        if kh != kw or filters != channels:
            raise ValueError(
                "BilinearUpsampling needs a square kernel with filters == input channels, "
                f"got kernel shape {tuple(shape)}"
            )
        kernel = np.zeros((kh, kw, filters, channels))
        kernel[:, :, np.arange(filters), np.arange(channels)] = bilinear_kernel(kh)[..., None]
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")

    def get_config(self):
        return {}
