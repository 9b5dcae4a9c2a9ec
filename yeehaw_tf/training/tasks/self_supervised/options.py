"""The self-supervised task's options: the method, the encoder, the data and each method's
hyper-parameters (defaults from the papers, scaled to 32x32 images)."""

from __future__ import annotations

import dataclasses

from yeehaw_tf.training.tasks.base import TaskOptions
from yeehaw_tf.training.tasks.options import check_choice, check_fraction, check_image_size, option

# Every method, in the order the comparison table lists them. ``supervised`` is the baseline:
# the same encoder trained on the labels for the same budget.
METHODS = (
    "rotation",
    "jigsaw",
    "context",
    "colorization",
    "mae",
    "simclr",
    "simsiam",
    "supervised",
)
# The encoder every method but the masked autoencoder trains, and the MAE's.
RESNET_ENCODER = "small_resnet"
VIT_ENCODER = "vit_tiny"


def encoder_names() -> list[str]:
    return [RESNET_ENCODER, VIT_ENCODER]


@dataclasses.dataclass(frozen=True)
class SelfSupervisedOptions(TaskOptions):
    """Pre-training options. Every method trains the same encoder on the same images for the
    same number of steps; the labels are read only by the probe (and the ``supervised``
    baseline)."""

    method: str = option("simclr", "Pre-training method.", METHODS)
    model: str = option(
        "",
        f"Encoder: {RESNET_ENCODER} (every method but mae) or {VIT_ENCODER} (mae); empty: "
        "the method's.",
        lambda: ["", *encoder_names()],
    )
    dataset: str = option("digits", "Images to pre-train on (the labelled split probes).")
    epochs: int = option(60, "Epochs to pre-train when --train_steps is not set.")
    image_size: tuple[int, int] | None = option(
        (32, 32), "height,width the images are resized to before any method sees them."
    )
    scenes: bool = option(
        True,
        "Place each grey image (digit) at a random scale and position of the canvas among "
        "distractor strokes (yeehaw_tf.data.digit_scenes), the same every read.",
    )
    tint: bool = option(
        True,
        "Colour grey images radially (yeehaw_tf.data.tint), so that colorization is "
        "well-posed; colour images are left as they are.",
    )
    widths: tuple[int, ...] = option((16, 32, 64), f"{RESNET_ENCODER}: the stages' widths.")
    temperature: float = option(0.2, "simclr: the NT-Xent temperature tau > 0.")
    projection_dim: int = option(64, "simclr, simsiam: width of the projection output.")
    permutations: int = option(64, "jigsaw: the size N of the permutation set (N-way task).")
    jigsaw_tile: int = option(9, "jigsaw: tile side in pixels inside each third of the image.")
    context_patch: int = option(8, "context: the patches' side in pixels.")
    context_gap: int = option(2, "context: pixels between neighbouring patches.")
    context_jitter: int = option(2, "context: each patch moves by up to this many pixels.")
    color_bin: float = option(10.0, "colorization: side of the quantised ab bins.")
    mask_ratio: float = option(0.75, "mae: the fraction of patches masked.")
    normalize_targets: bool = option(False, "mae: per-patch normalised pixel targets.")
    probe_k: int = option(20, "kNN probe: the number of neighbours (cosine similarity).")

    def __post_init__(self):
        check_choice("method", self.method, METHODS)
        check_choice("model", self.model, ["", *encoder_names()])
        if self.model and (self.model == VIT_ENCODER) != (self.method == "mae"):
            raise ValueError(
                f"model={self.model!r} does not go with method={self.method!r}: mae trains "
                f"{VIT_ENCODER}, every other method {RESNET_ENCODER}"
            )
        check_image_size(self.image_size)
        if self.image_size is None:
            raise ValueError("image_size must be (height, width), got None")
        if self.image_size[0] != self.image_size[1]:
            raise ValueError(f"image_size must be square (rotations), got {self.image_size}")
        if not self.widths or min(self.widths) < 1:
            raise ValueError(f"widths must be positive integers, got {self.widths}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        for name in ("projection_dim", "permutations", "jigsaw_tile", "context_patch", "probe_k"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.permutations < 2:
            raise ValueError(f"permutations must be at least 2, got {self.permutations}")
        for name in ("context_gap", "context_jitter"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(
                    f"{name} must be a non-negative integer, got {getattr(self, name)!r}"
                )
        if not self.color_bin > 0:
            raise ValueError(f"color_bin must be > 0, got {self.color_bin}")
        check_fraction("mask_ratio", self.mask_ratio)

    @property
    def encoder(self) -> str:
        """The encoder this run trains."""
        return self.model or (VIT_ENCODER if self.method == "mae" else RESNET_ENCODER)
