"""The model options a task passes on: those chosen away from their defaults, each refused by
name when the model's builder does not take it (rather than silently ignored)."""

from __future__ import annotations

import dataclasses

from yeehaw_tf.models.registry import accepts


def chosen_model_options(model_name: str, chosen: dict[str, tuple]) -> dict:
    """``chosen`` maps builder keyword -> ``(value, default)``; returns the non-default ones."""
    options = {k: v for k, (v, default) in chosen.items() if v != default}
    for option in options:
        if not accepts(model_name, option):
            flag = "l1/l2" if option == "kernel_regularizer" else option
            raise ValueError(f"model {model_name!r} does not offer the {flag} option")
    return options


def option(default, help: str, choices=None):
    """A task option: a dataclass field with its default (defined only here), the help text of
    its ``train.py`` flag, and optionally ``choices``, the valid values (or a function that
    lists them)."""
    metadata = {"help": help}
    if choices is not None:
        metadata["choices"] = choices
    return dataclasses.field(default=default, metadata=metadata)


def check_choice(name: str, value, allowed) -> None:
    allowed = list(allowed() if callable(allowed) else allowed)
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; valid names: {', '.join(map(str, allowed))}")


def check_fraction(name: str, value: float) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


def check_image_size(value) -> None:
    if value is not None and (len(value) != 2 or min(value) < 1):
        raise ValueError(f"image_size must be (height, width), got {value}")
