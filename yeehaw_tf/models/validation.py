"""Argument checks shared by the model builders: clear errors before any layer is built."""

from __future__ import annotations

from collections.abc import Sequence


def check_classifier_args(num_classes: int, input_shape: Sequence[int], min_size: int = 1) -> None:
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if len(input_shape) != 3 or any(not isinstance(d, int) or d < 1 for d in input_shape):
        raise ValueError(
            f"input_shape must be (height, width, channels) of positive integers, "
            f"got {tuple(input_shape)!r}"
        )
    if min(input_shape[:2]) < min_size:
        raise ValueError(
            f"input_shape {tuple(input_shape)} is too small: this model needs height and width "
            f"of at least {min_size}"
        )
