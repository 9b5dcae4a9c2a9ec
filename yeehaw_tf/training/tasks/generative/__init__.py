"""The generative tasks: ``gan`` (the GAN family), ``vae`` and ``diffusion`` (DDPM/DDIM)."""

from yeehaw_tf.training.tasks.generative.gan import GanTask
from yeehaw_tf.training.tasks.generative.options import DiffusionOptions, GanOptions, VaeOptions

__all__ = ["DiffusionOptions", "GanOptions", "GanTask", "VaeOptions"]
