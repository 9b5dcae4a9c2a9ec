"""Denoising diffusion (``--task diffusion``): DDPM training (Ho et al. 2020) of a small
time-conditioned U-Net, sampled by DDPM and by DDIM (Song et al. 2021) with fewer steps.

Each step draws, per example, a timestep ``t ~ U{0..T-1}`` and noise ``eps ~ N(0, I)`` from the
step's stateless randomness, forms ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps``
and minimises the simple loss ``||eps - eps_theta(x_t, t)||^2`` (mean over pixels). After each
update the exponential moving average of the weights (a second, non-trainable copy of the
network, checkpointed with it) moves towards them; sampling, scoring and export use the
average. After training: inception score and FID of DDPM samples and of DDIM samples at each
of ``sampling_steps``, a plot of both against the step count, and the forward (one image noised
over t) and reverse (a sample denoised over t) strips.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from yeehaw_tf.models.registry import get_generative
from yeehaw_tf.ops import diffusion
from yeehaw_tf.training.tasks.base import LossOutput
from yeehaw_tf.training.tasks.generative import serving
from yeehaw_tf.training.tasks.generative.common import GenerativeTask, seeded_normal
from yeehaw_tf.training.tasks.generative.data import to_uint8, to_unit
from yeehaw_tf.training.tasks.generative.options import DiffusionOptions
from yeehaw_tf.training.tasks.generative.pictures import image_grid, write_grid, write_png
from yeehaw_tf.training.tasks.images import as_arrays

STRIP_STEPS = 10  # pictures in each strip


class DiffusionTask(GenerativeTask):
    name = "diffusion"
    Options = DiffusionOptions
    main_model = "eps_model"

    def __init__(self, options, **measured):
        super().__init__(options, **measured)
        self.schedule = options.schedule()
        self._samplers: dict = {}

    # ----------------------------------------------------------------------------- models
    def _unet(self, name):
        build = get_generative(self.options.model)["eps_model"]
        return build(image_shape=self.image_shape, widths=self.options.unet_widths, name=name)

    def build_models(self):
        online = self._unet("eps_model")
        average = self._unet("ema_eps_model")
        average.set_weights(online.get_weights())
        average.trainable = False  # updated by the moving average, not by an optimizer
        return {"eps_model": online, "ema_eps_model": average}

    def optimizer_variables(self, name, models):
        return models["eps_model"].trainable_variables

    # ----------------------------------------------------------------------------- the maths
    def compute_loss(self, models, batch, training, ctx):
        x0 = batch
        size = tf.shape(x0)[0]
        t = ctx.random.uniform([size], "timesteps", 0, self.schedule.num_steps, tf.int32)
        noise = ctx.random.normal(tf.shape(x0), "noise")
        x_t = diffusion.q_sample(self.schedule, x0, t, noise)
        model = models["eps_model"]
        eps_hat = model({"noisy_images": x_t, "timesteps": t}, training=training)
        error = tf.reduce_mean(tf.square(noise - tf.cast(eps_hat, tf.float32)), axis=[1, 2, 3])
        return LossOutput(tf.reduce_sum(error))

    def train_step(self, ctx, batch):
        ctx.minimize(
            "model",
            lambda: self.compute_loss(ctx.models, batch, True, ctx),
            ctx.models["eps_model"],
        )
        decay = self.options.ema_decay
        online = {
            id(a): w
            for a, w in zip(
                ctx.models["ema_eps_model"].weights, ctx.models["eps_model"].weights, strict=True
            )
        }
        ctx.assign(
            ctx.models["ema_eps_model"].weights,
            lambda average: decay * average + (1.0 - decay) * online[id(average)],
        )

    def inference_model(self, models):
        """The moving average of the weights: what samples, scores and exports."""
        return models["ema_eps_model"]

    # ----------------------------------------------------------------------------- sampling
    def sampler(self, model):
        """``images(num_images, seed, steps, eta)``: :func:`yeehaw_tf.ops.diffusion.sample` on
        ``model`` in one ``tf.function`` (the same function the SavedModel holds)."""
        if id(model) not in self._samplers:
            images = serving.sample_images(model, self.schedule, self.image_shape, to_uint8)
            self._samplers[id(model)] = tf.function(images, reduce_retracing=True)
        return self._samplers[id(model)]

    def generate(self, models, num_images, seed, steps=None, eta=1.0, batch_size=500):
        model = models["ema_eps_model"] if isinstance(models, dict) else models
        steps = self.schedule.num_steps if steps is None else steps
        sample = self.sampler(model)
        parts = []
        for start in range(0, num_images, batch_size):
            count = min(batch_size, num_images - start)
            parts.append(
                sample(
                    tf.constant(count, tf.int32),
                    tf.constant(seed * 1_000_003 + start, tf.int64),
                    tf.constant(steps, tf.int32),
                    tf.constant(eta, tf.float32),
                ).numpy()
            )
        return np.concatenate(parts)

    # ----------------------------------------------------------------------------- results
    def write_artifacts(self, model, data, workdir):
        T = self.schedule.num_steps
        self.scores = {"ddpm": self.score(model, data, steps=T, eta=1.0)}
        for steps in self.options.sampling_steps:
            self.scores[f"ddim_{steps}"] = self.score(model, data, steps=steps, eta=0.0)
        paths = {"scores": self.write_scores(workdir)}
        paths["grid"] = write_grid(
            os.path.join(workdir, "samples", "final.png"), self.generate(model, 64, 1234)
        )
        paths["strips"] = self.write_strips(model, data, workdir)
        if self.options.num_scored:
            paths["plot"] = plot_scores_vs_steps(self.scores, self.reference, workdir)
        return paths

    def write_strips(self, model, data, workdir) -> str:
        """Row 1: a test image noised at ``STRIP_STEPS`` timesteps; row 2: a DDPM sample at the
        same timesteps on its way from noise."""
        T = self.schedule.num_steps
        shown = np.linspace(0, T - 1, STRIP_STEPS).astype(np.int32)
        images, _ = as_arrays(data.test, 1)
        x0 = to_unit(np.repeat(images, STRIP_STEPS, axis=0))
        noise = tf.repeat(seeded_normal([1, *self.image_shape], 5), STRIP_STEPS, axis=0)
        forward = to_uint8(diffusion.q_sample(self.schedule, x0, shown, noise)).numpy()
        reverse = reverse_trajectory(model, self.schedule, self.image_shape, shown, seed=5)
        rows = np.concatenate([forward, reverse[::-1]])
        path = os.path.join(workdir, "samples", "forward_reverse.png")
        return write_png(path, image_grid(rows, columns=STRIP_STEPS, scale=6))

    def summary_rows(self, evaluation):
        rows = []
        for name, scores in self.scores.items():
            if not scores:
                continue
            rows.append(
                (f"{name} IS / FID", f"{scores['inception_score']:.3f} / {scores['fid']:.3f}")
            )
        if self.reference:
            rows.append(
                (
                    "real IS / FID",
                    f"{self.reference['test_inception_score']:.3f} / "
                    f"{self.reference['train_test_fid']:.3f}",
                )
            )
        loss = [("test loss", f"{evaluation['loss']:.4f}")] if "loss" in evaluation else []
        return [*rows, *loss]

    def serving_spec(self, model, data):
        return serving.diffusion_spec(model, self.schedule, self.image_shape, to_uint8)


def reverse_trajectory(model, schedule, image_shape, shown, seed: int) -> np.ndarray:
    """The DDPM chain of one sample, ``x_t`` at each timestep in ``shown`` (uint8)."""
    predict = serving.eps_function(model)

    @tf.function  # traced once (t is a tensor): the chain is T calls
    def step(x, t, noise):
        return diffusion.sampler_step(
            schedule, x, predict(x, tf.reshape(t, [1])), t, t - 1, 1.0, noise
        )

    x = seeded_normal([1, *image_shape], seed)
    wanted = set(int(t) for t in shown)
    kept = {}
    for t in range(schedule.num_steps - 1, -1, -1):
        if t in wanted:
            kept[t] = to_uint8(x).numpy()[0]
        noise = seeded_normal([1, *image_shape], seed * 100_000 + t)
        x = step(x, tf.constant(t, tf.int32), noise)
    return np.stack([kept[int(t)] for t in shown])


def plot_scores_vs_steps(scores: dict, reference: dict, workdir: str) -> str:
    from yeehaw_tf.analysis.figures import new_figure, save_figure

    ddim = sorted((int(k.split("_")[1]), v) for k, v in scores.items() if k.startswith("ddim_"))
    plt, fig, axes = new_figure(1, 2, (9, 3.5))
    for ax, key, label, real in (
        (axes[0, 0], "inception_score", "inception score (ours)", "test_inception_score"),
        (axes[0, 1], "fid", "FID (ours)", "train_test_fid"),
    ):
        ax.plot([s for s, _ in ddim], [v[key] for _, v in ddim], "o-", label="DDIM (eta=0)")
        if "ddpm" in scores:
            ax.axhline(scores["ddpm"][key], color="C1", ls="--", label="DDPM (T steps)")
        if reference:
            ax.axhline(reference[real], color="k", ls=":", label="real data")
        ax.set_xscale("log")
        ax.set_xlabel("sampling steps")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(plt, fig, os.path.join(workdir, "scores_vs_steps.png"))
