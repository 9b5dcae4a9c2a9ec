"""The checks every attack makes on its arguments, with errors that name the argument.

Numbers (``epsilon``, ``alpha``, ``iterations``, ``pixel_range``) are Python or NumPy numbers,
checked when the attack is called (also while a ``tf.function`` traces it); ``images`` and
``labels`` are tensors whose static shapes are checked here and whose dynamic batch sizes are
checked by an assertion inside the graph.
"""

from __future__ import annotations

import math

import tensorflow as tf


def _number(name: str, value, expected: str) -> float:
    if isinstance(value, bool | str | bytes):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be {expected} (a Python or NumPy number, not a symbolic tensor), "
            f"got {value!r}"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return number


def check_pixel_range(pixel_range) -> tuple[float, float]:
    """``(low, high)``: two finite numbers with ``low < high`` (the valid pixel values)."""
    expected = "a pair (low, high) of finite numbers with low < high, e.g. (0.0, 255.0)"
    try:
        low, high = pixel_range
    except (TypeError, ValueError):
        raise ValueError(f"pixel_range must be {expected}, got {pixel_range!r}") from None
    low = _number("pixel_range", low, expected)
    high = _number("pixel_range", high, expected)
    if not low < high:
        raise ValueError(f"pixel_range must be {expected}, got {pixel_range!r}")
    return low, high


def check_epsilon(epsilon, pixel_range: tuple[float, float], what: str = "epsilon") -> float:
    """``epsilon`` as a float in ``[0, high - low]`` (pixel units: 0..255 by default); errors
    name it ``what``."""
    low, high = pixel_range
    span = high - low
    expected = f"a number in [0, {span:g}] (the perturbation size in pixel units of {pixel_range})"
    value = _number(what, epsilon, expected)
    if not 0.0 <= value <= span:
        raise ValueError(f"{what} must be {expected}, got {epsilon!r}")
    return value


def check_alpha(alpha) -> float:
    """``alpha`` (the step of an iterative attack) as a positive float."""
    value = _number("alpha", alpha, "a positive number (the step size in pixel units)")
    if value <= 0.0:
        raise ValueError(
            f"alpha must be a positive number (the step size in pixel units), got {alpha!r}"
        )
    return value


def check_iterations(iterations) -> int:
    """``iterations`` as an int >= 0."""
    if isinstance(iterations, bool) or not hasattr(iterations, "__index__") or int(iterations) < 0:
        raise ValueError(
            f"iterations must be an integer >= 0 (or None for the paper's rule), got {iterations!r}"
        )
    return int(iterations)


def check_images(images) -> tf.Tensor:
    """``images`` as a float32 tensor ``[B, ...]`` (cast from any numeric dtype)."""
    images = tf.convert_to_tensor(images)
    if not (images.dtype.is_floating or images.dtype.is_integer):
        raise ValueError(f"images must be a numeric tensor [B, H, W, C], got dtype {images.dtype}")
    if images.shape.rank is not None and images.shape.rank < 2:
        raise ValueError(f"images must be a batch [B, H, W, C], got shape {images.shape}")
    return tf.cast(images, tf.float32)


def check_labels(labels, images: tf.Tensor) -> tf.Tensor:
    """``labels`` as an int64 tensor ``[B]``: one class index per image of ``images``."""
    labels = tf.convert_to_tensor(labels)
    if not labels.dtype.is_integer:
        raise ValueError(
            f"labels must be integer class indices [B] (not one-hot), got dtype {labels.dtype}"
        )
    batch, rank = images.shape[0], labels.shape.rank
    count = labels.shape[0] if rank == 1 else None
    if (rank is not None and rank != 1) or None not in (count, batch) and count != batch:
        raise ValueError(
            f"labels must have shape [B] = [{batch}], one class index per image, got shape "
            f"{labels.shape} for images of shape {images.shape}"
        )
    if None in (count, batch):  # checked when the graph runs, before the labels are used
        check = tf.debugging.assert_equal(
            tf.shape(labels)[0],
            tf.shape(images)[0],
            message="labels must have one class index per image",
        )
        if check is not None:  # in a graph: nothing may read the labels before the check
            with tf.control_dependencies([check]):
                labels = tf.identity(labels)
    return tf.cast(labels, tf.int64)
