"""The attacks by name, each with one signature, so reports and adversarial training can loop
over them: ``ATTACKS[name](model, images, labels, epsilon, pixel_range=..., training=...)``.

The iterative attacks use the paper's defaults here (``alpha = 1``, :func:`bim_iterations`);
``least_likely`` ignores ``labels`` (its target comes from the clean image).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from yeehaw_tf.attacks.gradient_sign import PIXEL_RANGE, fgsm
from yeehaw_tf.attacks.iterative import iterative_fgsm, least_likely

Attack = Callable[..., tf.Tensor]


def _least_likely(
    model: keras.Model,
    images,
    labels,
    epsilon: float,
    *,
    pixel_range: tuple[float, float] = PIXEL_RANGE,
    training: bool = False,
) -> tf.Tensor:
    del labels  # the target is the clean image's least likely class
    return least_likely(model, images, epsilon, pixel_range=pixel_range, training=training)


ATTACKS: dict[str, Attack] = {
    "fgsm": fgsm,
    "iterative_fgsm": iterative_fgsm,
    "least_likely": _least_likely,
}


def attack_names() -> list[str]:
    return list(ATTACKS)


def get_attack(name: str) -> Attack:
    """The attack called ``name``; an unknown name is refused, listing the valid ones."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; valid names: {', '.join(ATTACKS)}")
    return ATTACKS[name]
