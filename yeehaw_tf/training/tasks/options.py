"""The model options a task passes on: those chosen away from their defaults, each refused by
name when the model's builder does not take it (rather than silently ignored)."""

from __future__ import annotations

from yeehaw_tf.models.registry import accepts


def chosen_model_options(model_name: str, chosen: dict[str, tuple]) -> dict:
    """``chosen`` maps builder keyword -> ``(value, default)``; returns the non-default ones."""
    options = {k: v for k, (v, default) in chosen.items() if v != default}
    for option in options:
        if not accepts(model_name, option):
            flag = "l1/l2" if option == "kernel_regularizer" else option
            raise ValueError(f"model {model_name!r} does not offer the {flag} option")
    return options
