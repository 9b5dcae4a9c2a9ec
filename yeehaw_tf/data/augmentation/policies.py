"""Named augmentation policies per task kind: which Keras layers, in which order, how strong.

Magnitudes are fractions of the image, so one table serves the 8 x 8 grey ``digits`` and the
32 x 32 / 64 x 64 RGB ``shapes``: a translation of 1/8 of the side is 1 pixel on ``digits`` and
4 on ``shapes/32x32``. Geometric layers fill uncovered pixels with 0 (black in images,
background in masks) rather than Keras's default reflection, which would show objects that no
box or mask accounts for.

Horizontal flips are not label-preserving for digits (a mirrored 2 is not a 2): the policies
that flip say so (``Policy.flips``) and the flip-free ones (``crop``, ``geometric``) are the
ones for digits. Circles, squares and triangles (apex up) are mirror-symmetric.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

from yeehaw_tf.data.augmentation.pad_crop import RandomPadCrop
from yeehaw_tf.data.augmentation.rand_augment import SeededRandAugment

KINDS = ("classification", "segmentation", "detection")

TRANSLATION = 0.125  # of the height / width, each way
ROTATION_DEGREES = 10.0  # each way
ZOOM = 0.1  # of the size, in or out
PADDING = 0.125  # pad-and-crop: pixels of padding per side, as a fraction of the shorter side
BRIGHTNESS = 0.2  # a shift of up to 20% of the 0..255 range, either way
CONTRAST = 0.2  # a contrast factor in [0.8, 1.2]
ERASING_PROBABILITY = 0.5
ERASING_SCALE = (0.02, 0.33)  # Keras's default: each side sqrt(u) of the image's, u in this range
RANDAUGMENT_OPS = 2
RANDAUGMENT_FACTOR = 0.25  # Keras's magnitude in [0, 1] (its default, 0.5, rotates up to 180 deg)
MIXUP_ALPHA = 0.2  # Beta(alpha, alpha) mixing weights (Zhang et al.)
CUTMIX_ALPHA = 1.0  # Beta(alpha, alpha) box areas (Yun et al.)

_BOX_FORMAT = "xyxy"  # pixels: what Keras's box code works in (see boxes.py)
_VALUE_RANGE = (0, 255)


def _flip(height: int, width: int) -> list:
    return [keras.layers.RandomFlip("horizontal", bounding_box_format=_BOX_FORMAT)]


def _crop(height: int, width: int) -> list:
    padding = max(1, round(PADDING * min(height, width)))
    return [RandomPadCrop(padding, height, width, bounding_box_format=_BOX_FORMAT)]


def _geometric(height: int, width: int) -> list:
    fill = {"fill_mode": "constant", "fill_value": 0.0, "bounding_box_format": _BOX_FORMAT}
    # Rotation first: the axis-aligned steps after it keep its (enclosing) boxes exact.
    return [
        keras.layers.RandomRotation(ROTATION_DEGREES / 360.0, **fill),
        keras.layers.RandomZoom(ZOOM, **fill),
        keras.layers.RandomTranslation(TRANSLATION, TRANSLATION, **fill),
    ]


def _color(height: int, width: int) -> list:
    return [
        keras.layers.RandomBrightness(BRIGHTNESS, value_range=_VALUE_RANGE),
        keras.layers.RandomContrast(CONTRAST, value_range=_VALUE_RANGE),
    ]


def _erasing(height: int, width: int) -> list:
    return [
        keras.layers.RandomErasing(
            factor=(ERASING_PROBABILITY, ERASING_PROBABILITY),
            scale=ERASING_SCALE,
            value_range=_VALUE_RANGE,
        )
    ]


def _randaugment(height: int, width: int) -> list:
    return [
        SeededRandAugment(
            value_range=_VALUE_RANGE, num_ops=RANDAUGMENT_OPS, factor=RANDAUGMENT_FACTOR
        )
    ]


def _nothing(height: int, width: int) -> list:
    return []


def _then(*parts: Callable[[int, int], list]) -> Callable[[int, int], list]:
    return lambda height, width: [layer for part in parts for layer in part(height, width)]


@dataclasses.dataclass(frozen=True)
class Policy:
    """One named policy.

    ``layers(height, width)`` builds fresh Keras layers applied, in order, to each training
    example; ``mix`` (``mixup``/``cutmix`` only) builds the layer applied to each training batch,
    which turns integer labels into soft labels ``[batch, num_classes]``. ``flips``: the policy
    mirrors images (not for digits).
    """

    name: str
    description: str
    kinds: tuple[str, ...]
    layers: Callable[[int, int], list]
    flips: bool = False
    mix: Callable[[], keras.layers.Layer] | None = None

    @property
    def soft_labels(self) -> bool:
        """Whether training labels become ``[batch, num_classes]`` float32 mixtures."""
        return self.mix is not None


_ALL = KINDS
_TABLE = (
    Policy("none", "no augmentation", _ALL, _nothing),
    Policy("flip", "horizontal flip with probability 1/2", _ALL, _flip, flips=True),
    Policy(
        "crop",
        f"pad {PADDING:g} of the side with 0 and crop back at random (a whole-pixel shift)",
        _ALL,
        _crop,
    ),
    Policy("crop_flip", "crop, then flip (the CIFAR recipe)", _ALL, _then(_crop, _flip), True),
    Policy(
        "geometric",
        f"rotation up to {ROTATION_DEGREES:g} degrees, zoom up to {ZOOM:g}, translation up to "
        f"{TRANSLATION:g} of the size (no flip: for digits)",
        _ALL,
        _geometric,
    ),
    Policy("geometric_flip", "geometric, then flip", _ALL, _then(_geometric, _flip), True),
    Policy(
        "color",
        f"brightness shift up to {BRIGHTNESS:g} of the range, contrast factor in "
        f"[{1 - CONTRAST:g}, {1 + CONTRAST:g}]",
        _ALL,
        _color,
    ),
    Policy(
        "randaugment",
        f"Keras RandAugment, {RANDAUGMENT_OPS} operations of magnitude {RANDAUGMENT_FACTOR:g}",
        ("classification",),
        _randaugment,
    ),
    Policy(
        "erasing",
        f"random erasing (Keras RandomErasing) with probability {ERASING_PROBABILITY:g}",
        ("classification",),
        _erasing,
    ),
    Policy(
        "mixup",
        f"mixup of image pairs within each batch, Beta({MIXUP_ALPHA:g}, {MIXUP_ALPHA:g}); soft "
        "labels",
        ("classification",),
        _nothing,
        mix=lambda: keras.layers.MixUp(alpha=MIXUP_ALPHA),
    ),
    Policy(
        "cutmix",
        "cutmix of image pairs within each batch, label weights = pasted pixel fraction; soft "
        "labels",
        ("classification",),
        _nothing,
        mix=lambda: keras.layers.CutMix(factor=CUTMIX_ALPHA),
    ),
)
POLICIES: dict[str, Policy] = {policy.name: policy for policy in _TABLE}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")


def policy_names(kind: str) -> tuple[str, ...]:
    """The policies for ``kind`` (``"classification"``, ``"segmentation"``, ``"detection"``)."""
    _check_kind(kind)
    return tuple(name for name, policy in POLICIES.items() if kind in policy.kinds)


def validate_policy(kind: str, augment: str | None) -> str:
    """Returns the policy name ``augment`` (``None`` is ``"none"``) if ``kind`` has it; else a
    ``ValueError`` names ``augment`` and lists the valid policies."""
    names = policy_names(kind)
    name = "none" if augment is None else augment
    if name not in names:
        raise ValueError(
            f"augment={augment!r} is not an augmentation policy for {kind}; valid policies: "
            f"{', '.join(names)}"
        )
    return name


def get_policy(kind: str, augment: str | Policy | None) -> Policy:
    """The :class:`Policy` named ``augment`` for ``kind`` (a ``Policy`` is checked and passed
    through)."""
    if isinstance(augment, Policy):
        _check_kind(kind)
        if kind not in augment.kinds:
            raise ValueError(
                f"augment={augment.name!r} is not an augmentation policy for {kind}; valid "
                f"policies: {', '.join(policy_names(kind))}"
            )
        return augment
    return POLICIES[validate_policy(kind, augment)]
