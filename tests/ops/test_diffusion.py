"""The DDPM schedule and the DDPM/DDIM sampler against each paper's formulas in float64 NumPy,
and sampling with the exact noise predictor of a one-point data distribution."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.ops import diffusion

T = 1000


def test_schedule_matches_the_paper():
    schedule = diffusion.DiffusionSchedule()
    betas = np.linspace(1e-4, 0.02, T)
    alpha_bars = np.cumprod(1 - betas)
    np.testing.assert_allclose(schedule.betas, betas, rtol=1e-15)
    np.testing.assert_allclose(schedule.alpha_bars, alpha_bars, rtol=1e-12)
    previous = np.concatenate([[1.0], alpha_bars[:-1]])
    np.testing.assert_allclose(
        schedule.posterior_variance, betas * (1 - previous) / (1 - alpha_bars), rtol=1e-12
    )
    assert schedule.posterior_variance[0] == 0.0
    # the published endpoint: alpha_bar_T ~ 4e-5, so x_T is (almost) pure noise
    assert 3e-5 < alpha_bars[-1] < 5e-5


def test_q_sample_is_the_closed_form():
    schedule = diffusion.DiffusionSchedule()
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, size=(3, 4, 4, 1)).astype(np.float32)
    noise = rng.normal(size=x0.shape).astype(np.float32)
    t = np.array([0, 500, 999], np.int32)
    a = schedule.alpha_bars[t][:, None, None, None]
    expected = np.sqrt(a) * x0 + np.sqrt(1 - a) * noise
    got = diffusion.q_sample(schedule, tf.constant(x0), tf.constant(t), tf.constant(noise))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


def _ddpm_step(schedule, x_t, eps, t, z):
    """Ho et al.: x0_hat from eps (clipped), then the posterior q(x_{t-1} | x_t, x0_hat)'s mean
    (eq. 7) plus sqrt(beta_tilde_t) z."""
    betas, alphas, a = schedule.betas, schedule.alphas, schedule.alpha_bars
    a_prev = a[t - 1] if t > 0 else 1.0
    x0 = np.clip((x_t - np.sqrt(1 - a[t]) * eps) / np.sqrt(a[t]), -1, 1)
    mean = (np.sqrt(a_prev) * betas[t] / (1 - a[t])) * x0 + (
        np.sqrt(alphas[t]) * (1 - a_prev) / (1 - a[t])
    ) * x_t
    return mean + np.sqrt(schedule.posterior_variance[t]) * z


def _ddim_step(schedule, x_t, eps, t, s):
    """Song et al. eq. 12 with eta = 0 (eps recomputed from the clipped x0)."""
    a = schedule.alpha_bars
    a_s = a[s] if s >= 0 else 1.0
    x0 = np.clip((x_t - np.sqrt(1 - a[t]) * eps) / np.sqrt(a[t]), -1, 1)
    eps = (x_t - np.sqrt(a[t]) * x0) / np.sqrt(1 - a[t])
    return np.sqrt(a_s) * x0 + np.sqrt(1 - a_s) * eps


@pytest.mark.parametrize("t", [999, 500, 1, 0])
def test_eta_one_on_every_step_is_ddpm(t):
    schedule = diffusion.DiffusionSchedule()
    rng = np.random.default_rng(t)
    x_t, eps, z = (rng.normal(size=(2, 3, 3, 1)) for _ in range(3))
    got = diffusion.sampler_step(
        schedule,
        *(tf.constant(v, tf.float32) for v in (x_t, eps)),
        t,
        t - 1,
        1.0,
        tf.constant(z, tf.float32),
    )
    # float32: near t = 0, sqrt(1 - alpha_bar_t) ~ 0.02 amplifies rounding
    np.testing.assert_allclose(got.numpy(), _ddpm_step(schedule, x_t, eps, t, z), atol=1e-4)


@pytest.mark.parametrize("t,s", [(999, 899), (500, 250), (99, -1)])
def test_eta_zero_is_ddim(t, s):
    schedule = diffusion.DiffusionSchedule()
    rng = np.random.default_rng(t)
    x_t, eps, z = (rng.normal(size=(2, 3, 3, 1)) for _ in range(3))
    got = diffusion.sampler_step(
        schedule,
        *(tf.constant(v, tf.float32) for v in (x_t, eps)),
        t,
        s,
        0.0,
        tf.constant(z, tf.float32),
    )
    np.testing.assert_allclose(got.numpy(), _ddim_step(schedule, x_t, eps, t, s), atol=2e-5)


def test_sampling_timesteps():
    assert diffusion.sampling_timesteps(1000, 4).numpy().tolist() == [750, 500, 250, 0]
    assert diffusion.sampling_timesteps(10, 10).numpy().tolist() == list(range(9, -1, -1))


@pytest.mark.parametrize("steps,eta", [(10, 0.0), (100, 1.0), (1000, 1.0)])
def test_the_exact_noise_predictor_of_one_point_recovers_it(steps, eta):
    """If the data is the single image c, E[eps | x_t] = (x_t - sqrt(a_t) c) / sqrt(1 - a_t):
    every sampler must end at c."""
    schedule = diffusion.DiffusionSchedule()
    c = np.linspace(-0.9, 0.9, 16).reshape(1, 4, 4, 1).astype(np.float32)
    a = schedule.tensor("alpha_bars")

    def oracle(x, t):
        a_t = tf.reshape(tf.gather(a, t), [-1, 1, 1, 1])
        return (x - tf.sqrt(a_t) * c) / tf.sqrt(1 - a_t)

    images = diffusion.sample(oracle, schedule, [3, 4, 4, 1], 7, steps, eta)
    np.testing.assert_allclose(images.numpy(), np.repeat(c, 3, axis=0), atol=1e-4)


def test_sampling_is_a_function_of_the_seed():
    schedule = diffusion.DiffusionSchedule(20)

    def model(x, t):
        return 0.5 * x

    run = tf.function(lambda seed: diffusion.sample(model, schedule, [2, 2, 2, 1], seed, 20, 1.0))
    np.testing.assert_array_equal(run(tf.constant(3, tf.int64)), run(tf.constant(3, tf.int64)))
    assert not np.allclose(run(tf.constant(3, tf.int64)), run(tf.constant(4, tf.int64)))
    eager = diffusion.sample(model, schedule, [2, 2, 2, 1], 3, 20, 1.0)
    np.testing.assert_allclose(eager.numpy(), run(tf.constant(3, tf.int64)).numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_steps": 1}, "num_steps"),
        ({"beta_start": 0.0}, "beta_start"),
        ({"beta_end": 1.0}, "beta_end"),
        ({"beta_start": 0.05, "beta_end": 0.02}, "must not exceed"),
    ],
)
def test_bad_schedules_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        diffusion.DiffusionSchedule(**kwargs)
