"""Denoising diffusion: the DDPM noise schedule, the closed-form forward process, and one
sampler for DDPM and DDIM.

Forward process (Ho et al. 2020): ``q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)``,
so with ``alpha_t = 1 - beta_t`` and ``alpha_bar_t = prod_{s<=t} alpha_s``,
``q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)``: ``x_t = sqrt(alpha_bar_t) x_0 +
sqrt(1 - alpha_bar_t) eps`` (the reparameterization, so a network can be trained to predict
``eps`` from ``x_t`` and ``t`` at any ``t`` in one step).

Reverse process: DDIM's generalised step (Song et al. 2021, eq. 12) from ``t`` to an earlier
``s`` on a sub-sequence of timesteps::

    x0_hat = (x_t - sqrt(1 - a_t) eps_hat) / sqrt(a_t)          (clipped to [-1, 1])
    sigma  = eta * sqrt((1 - a_s) / (1 - a_t)) * sqrt(1 - a_t / a_s)
    x_s    = sqrt(a_s) x0_hat + sqrt(1 - a_s - sigma^2) eps_hat' + sigma z

with ``a = alpha_bar`` (``a_s = 1`` past the last step) and ``eps_hat'`` the noise implied by the
clipped ``x0_hat``. ``eta = 0`` is deterministic DDIM; ``eta = 1`` on every timestep is DDPM's
ancestral sampling with the posterior variance ``beta_tilde_t`` (the step's mean is then exactly
``q(x_{t-1} | x_t, x0_hat)``'s), so one function serves both and the tests check it against
each paper's formula.

Indices are 0-based: timestep ``t`` in ``[0, T)`` is the paper's ``t + 1``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class DiffusionSchedule:
    """The linear beta schedule of Ho et al.: ``T`` betas from ``beta_start`` to ``beta_end``.

    The quantities are float64 NumPy arrays of length ``T`` (float32 tensors via :meth:`tensor`).
    """

    num_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self):
        if not isinstance(self.num_steps, int) or self.num_steps < 2:
            raise ValueError(f"num_steps (T) must be an integer >= 2, got {self.num_steps!r}")
        for name in ("beta_start", "beta_end"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {value!r}")
        if self.beta_start > self.beta_end:
            raise ValueError(
                f"beta_start ({self.beta_start}) must not exceed beta_end ({self.beta_end})"
            )

    @property
    def betas(self) -> np.ndarray:
        return np.linspace(self.beta_start, self.beta_end, self.num_steps, dtype=np.float64)

    @property
    def alphas(self) -> np.ndarray:
        return 1.0 - self.betas

    @property
    def alpha_bars(self) -> np.ndarray:
        return np.cumprod(self.alphas)

    @property
    def posterior_variance(self) -> np.ndarray:
        """``beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * beta_t`` (0 at t = 0)."""
        previous = np.concatenate([[1.0], self.alpha_bars[:-1]])
        return (1.0 - previous) / (1.0 - self.alpha_bars) * self.betas

    def tensor(self, name: str) -> tf.Tensor:
        return tf.constant(getattr(self, name), tf.float32)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _gather(values: tf.Tensor, t: tf.Tensor, rank: int) -> tf.Tensor:
    """``values[t]`` shaped ``[batch, 1, ..., 1]`` to broadcast over examples of ``rank``."""
    return tf.reshape(tf.gather(values, t), [-1] + [1] * (rank - 1))


def q_sample(schedule: DiffusionSchedule, x0, t, noise) -> tf.Tensor:
    """``x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise`` for per-example ``t``."""
    a = _gather(schedule.tensor("alpha_bars"), t, len(x0.shape))
    return tf.sqrt(a) * x0 + tf.sqrt(1.0 - a) * noise


def sampling_timesteps(num_steps: int, steps) -> tf.Tensor:
    """The ``steps`` timesteps a sampler visits, descending: ``floor(i * T / steps)`` for
    ``i = steps-1 .. 0`` (all of ``T-1 .. 0`` when ``steps == T``). ``steps`` may be a tensor."""
    steps = tf.cast(steps, tf.int64)
    i = tf.range(steps - 1, -1, -1, dtype=tf.int64)
    return tf.cast((i * num_steps) // steps, tf.int32)


def check_steps(num_steps: int, steps: int) -> int:
    if not isinstance(steps, int | np.integer) or not 1 <= steps <= num_steps:
        raise ValueError(f"steps must be an integer in [1, T={num_steps}], got {steps!r}")
    return int(steps)


def sampler_step(schedule: DiffusionSchedule, x_t, eps_hat, t, s, eta, noise, clip: bool = True):
    """One generalised DDIM step from timestep ``t`` to ``s < t`` (``s = -1``: to ``x_0``);
    ``t``, ``s`` are scalars, ``eta`` a float scalar, ``noise`` like ``x_t``."""
    alpha_bars = schedule.tensor("alpha_bars")
    a_t = tf.gather(alpha_bars, t)
    a_s = tf.where(s >= 0, tf.gather(alpha_bars, tf.maximum(s, 0)), 1.0)
    x0_hat = (x_t - tf.sqrt(1.0 - a_t) * eps_hat) / tf.sqrt(a_t)
    if clip:
        x0_hat = tf.clip_by_value(x0_hat, -1.0, 1.0)
        eps_hat = (x_t - tf.sqrt(a_t) * x0_hat) / tf.sqrt(1.0 - a_t)
    eta = tf.cast(eta, tf.float32)
    sigma = eta * tf.sqrt((1.0 - a_s) / (1.0 - a_t) * (1.0 - a_t / a_s))
    direction = tf.sqrt(tf.maximum(1.0 - a_s - tf.square(sigma), 0.0))
    return tf.sqrt(a_s) * x0_hat + direction * eps_hat + sigma * noise


def sample(
    eps_model,
    schedule: DiffusionSchedule,
    shape,
    seed,
    steps,
    eta,
    clip: bool = True,
) -> tf.Tensor:
    """Images ``shape = [n, H, W, C]`` in ``[-1, 1]`` from noise, in a ``tf.while_loop`` (so a
    SavedModel can hold it): ``x_T ~ N(0, I)``, then :func:`sampler_step` over
    :func:`sampling_timesteps`. ``eps_model(x_t, t)`` takes per-example int32 timesteps.
    Randomness is stateless from ``seed`` (an int64 scalar): the same seed gives the same images.

    DDPM: ``steps = T, eta = 1``; DDIM: fewer ``steps``, ``eta = 0``.
    """
    seed = tf.cast(seed, tf.int64)
    base = tf.stack([seed, tf.constant(0x5EED, tf.int64)])
    timesteps = sampling_timesteps(schedule.num_steps, steps)
    count = tf.shape(timesteps)[0]
    previous = tf.concat([timesteps[1:], [-1]], axis=0)
    x = tf.random.stateless_normal(shape, base)

    def body(i, x):
        t, s = timesteps[i], previous[i]
        batch_t = tf.fill([tf.shape(x)[0]], t)
        eps_hat = tf.cast(eps_model(x, batch_t), tf.float32)
        noise_seed = tf.random.experimental.stateless_fold_in(base, tf.cast(i, tf.int64) + 1)
        noise = tf.random.stateless_normal(tf.shape(x), noise_seed)
        return i + 1, sampler_step(schedule, x, eps_hat, t, s, eta, noise, clip)

    _, x = tf.while_loop(lambda i, x: i < count, body, (tf.constant(0), x))
    return x
