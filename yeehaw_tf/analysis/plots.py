"""Pictures of the curriculum's functions, written as PNG files (matplotlib, no display)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from yeehaw_tf.atomic import atomic_file
from yeehaw_tf.layers import activations


def _figure(rows: int, cols: int, size: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(rows, cols, figsize=size, squeeze=False)


def _save(plt, fig, path: str) -> str:
    """Saves through a temporary file and a rename, so ``path`` is never half-written."""
    try:
        with atomic_file(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
    return path


def plot_activations(path: str, x_range: tuple[float, float] = (-4.0, 4.0)) -> str:
    """Each activation function of the notes (and its derivative) on ``x_range``; one panel per
    function. Maxout is shown as the max of two lines, ``max(x, 0.1 x)`` (leaky ReLU's shape)
    and ``max(x, -0.5 x)``. Returns ``path``."""
    x = tf.constant(np.linspace(*x_range, 401), tf.float32)
    functions = {
        "sigmoid": activations.sigmoid,
        "tanh": activations.tanh,
        "ReLU": activations.relu,
        "leaky ReLU (0.1)": lambda t: activations.leaky_relu(t, 0.1),
        "ELU (alpha=1)": activations.elu,
        "maxout max(x, -0.5x)": lambda t: tf.maximum(t, -0.5 * t),
    }
    plt, fig, axes = _figure(2, 3, (12, 7))
    for ax, (name, fn) in zip(axes.ravel(), functions.items(), strict=True):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        dy = tape.gradient(y, x)
        ax.plot(x.numpy(), y.numpy(), label="f(x)", linewidth=2)
        ax.plot(x.numpy(), dy.numpy(), "--", label="f'(x)")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_title(name)
        ax.legend(loc="upper left")
    fig.suptitle("Activation functions and their derivatives")
    fig.tight_layout()
    return _save(plt, fig, path)
