"""Options of the generative tasks (``gan``, ``vae``, ``diffusion``), and each GAN loss's recipe
from its paper."""

from __future__ import annotations

import dataclasses

from yeehaw_tf.losses.gan import LOSS_NAMES
from yeehaw_tf.models.registry import generative_names
from yeehaw_tf.ops.diffusion import DiffusionSchedule
from yeehaw_tf.training.tasks.base import TaskOptions
from yeehaw_tf.training.tasks.options import check_choice, option


@dataclasses.dataclass(frozen=True)
class GanRecipe:
    """How a loss variant trains: its optimizer (both players), critic steps per generator
    step, weight clipping, gradient-penalty weight and spectral normalisation."""

    optimizer: str  # "adam" or "rmsprop"
    learning_rate: float
    beta_1: float = 0.5
    beta_2: float = 0.999
    n_critic: int = 1
    clip: float | None = None
    gp_weight: float = 0.0
    spectral_norm: bool = False


# Each loss with its paper's recipe (Radford et al. for the two JS games; Arjovsky et al.,
# Algorithm 1; Gulrajani et al., Algorithm 1; Miyato et al., the hinge/SN setting "C").
RECIPES = {
    "minimax": GanRecipe("adam", 2e-4, 0.5, 0.999),
    "non_saturating": GanRecipe("adam", 2e-4, 0.5, 0.999),
    "wgan": GanRecipe("rmsprop", 5e-5, n_critic=5, clip=0.01),
    "wgan_gp": GanRecipe("adam", 1e-4, 0.0, 0.9, n_critic=5, gp_weight=10.0),
    "hinge": GanRecipe("adam", 2e-4, 0.0, 0.9, n_critic=1, spectral_norm=True),
}
assert tuple(RECIPES) == LOSS_NAMES


def _positive(name: str, value, kind=int) -> None:
    if not isinstance(value, kind) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class GenerativeOptions(TaskOptions):
    """What every generative task shares: the images, scoring and sample grids."""

    dataset: str = option("digits", "Images to model (digits 8x8, or shapes/32x32 in colour).")
    num_scored: int = option(
        1000, "Generated images scored by inception score and FID after training (0: none)."
    )
    sample_every: int = option(
        500, "Steps between sample grids (PNG in WORKDIR/samples, and TensorBoard images)."
    )

    def __post_init__(self):
        if not isinstance(self.num_scored, int) or self.num_scored < 0:
            raise ValueError(f"num_scored must be an integer >= 0, got {self.num_scored!r}")
        _positive("sample_every", self.sample_every)
        _positive("epochs", self.epochs)


@dataclasses.dataclass(frozen=True)
class GanOptions(GenerativeOptions):
    """A DCGAN pair trained with one of the GAN losses (each with its paper's optimizer,
    critic steps, clipping, penalty or spectral norm: ``RECIPES``)."""

    model: str = option(
        "dcgan", "The generator/discriminator pair.", lambda: generative_names("discriminator")
    )
    loss: str = option("wgan_gp", "The GAN game.", LOSS_NAMES)
    epochs: int = option(600, "Epochs when --train_steps is not set.")
    latent_dim: int = option(64, "Size of the generator's latent z.")
    width: int = option(32, "Channels of the smallest convolution (doubling towards 2x2/4x4).")
    n_critic: int | None = option(None, "Critic steps per generator step (default: the recipe's).")
    gp_weight: float | None = option(None, "WGAN-GP's lambda, >= 0 (default: the recipe's, 10).")
    clip: float | None = option(None, "wgan: the weight-clipping bound (default: 0.01).")
    gan_learning_rate: float | None = option(
        None, "Both players' learning rate (default: the recipe's)."
    )

    def __post_init__(self):
        super().__post_init__()
        check_choice("loss", self.loss, LOSS_NAMES)
        _positive("latent_dim", self.latent_dim)
        _positive("width", self.width)
        if self.n_critic is not None and (not isinstance(self.n_critic, int) or self.n_critic < 1):
            raise ValueError(f"n_critic must be an integer >= 1, got {self.n_critic!r}")
        if self.gp_weight is not None and not self.gp_weight >= 0:
            raise ValueError(f"gp_weight (lambda) must be >= 0, got {self.gp_weight!r}")
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"clip must be > 0, got {self.clip!r}")
        if self.gan_learning_rate is not None and not self.gan_learning_rate > 0:
            raise ValueError(f"gan_learning_rate must be > 0, got {self.gan_learning_rate!r}")

    def recipe(self) -> GanRecipe:
        """The loss's recipe with any option chosen away from its default applied."""
        recipe = RECIPES[self.loss]
        chosen = {
            "n_critic": self.n_critic,
            "gp_weight": self.gp_weight,
            "clip": self.clip,
            "learning_rate": self.gan_learning_rate,
        }
        return dataclasses.replace(recipe, **{k: v for k, v in chosen.items() if v is not None})


@dataclasses.dataclass(frozen=True)
class VaeOptions(GenerativeOptions):
    """A convolutional VAE trained on the negative ELBO (Bernoulli pixels)."""

    model: str = option(
        "conv_vae", "The encoder/decoder pair.", lambda: generative_names("decoder")
    )
    epochs: int = option(150, "Epochs when --train_steps is not set.")
    latent_dim: int = option(16, "Size of the latent z.")
    width: int = option(32, "Channels of the smallest convolution (doubling towards 2x2/4x4).")
    beta: float = option(1.0, "Weight of the KL term (1: the ELBO).")

    def __post_init__(self):
        super().__post_init__()
        _positive("latent_dim", self.latent_dim)
        _positive("width", self.width)
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")


@dataclasses.dataclass(frozen=True)
class DiffusionOptions(GenerativeOptions):
    """DDPM training of a time-conditioned U-Net; DDPM and DDIM sampling."""

    model: str = option(
        "ddpm_unet", "The noise-prediction network.", lambda: generative_names("eps_model")
    )
    epochs: int = option(300, "Epochs when --train_steps is not set.")
    num_timesteps: int = option(1000, "T, the forward process's length.")
    beta_start: float = option(1e-4, "The linear schedule's first beta.")
    beta_end: float = option(0.02, "The linear schedule's last beta.")
    unet_widths: tuple[int, ...] = option((32, 64, 64), "The U-Net's channels per scale.")
    ema_decay: float = option(0.999, "Decay of the weights' moving average used for sampling.")
    sampling_steps: tuple[int, ...] = option(
        (10, 50, 250, 1000), "DDIM step counts scored after training (DDPM uses all T)."
    )

    def __post_init__(self):
        super().__post_init__()
        DiffusionSchedule(self.num_timesteps, self.beta_start, self.beta_end)  # validates
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        for steps in self.sampling_steps:
            if not isinstance(steps, int) or not 1 <= steps <= self.num_timesteps:
                raise ValueError(
                    f"sampling_steps must be integers in [1, num_timesteps={self.num_timesteps}],"
                    f" got {steps!r}"
                )

    def schedule(self) -> DiffusionSchedule:
        return DiffusionSchedule(self.num_timesteps, self.beta_start, self.beta_end)
