"""The generative tasks: ``gan`` (the GAN family), ``vae`` and ``diffusion`` (DDPM/DDIM)."""

from yeehaw_tf.training.tasks.generative.diffusion import DiffusionTask
from yeehaw_tf.training.tasks.generative.gan import GanTask
from yeehaw_tf.training.tasks.generative.options import DiffusionOptions, GanOptions, VaeOptions
from yeehaw_tf.training.tasks.generative.vae import VaeTask

__all__ = ["DiffusionOptions", "DiffusionTask", "GanOptions", "GanTask", "VaeOptions", "VaeTask"]
