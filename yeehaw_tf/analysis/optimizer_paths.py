"""Two-dimensional test problems for optimizers, and the path an optimizer takes on them."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf


def ill_conditioned_quadratic(p):
    """``f(x, y) = (x^2 + 25 y^2) / 2``: curvatures 1 and 25 (condition number 25)."""
    return 0.5 * (p[0] ** 2 + 25.0 * p[1] ** 2)


def rosenbrock(p):
    """``f(x, y) = (1 - x)^2 + 100 (y - x^2)^2``: a curved valley, minimum 0 at (1, 1)."""
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


PROBLEMS = {
    "quadratic": (ill_conditioned_quadratic, (-8.0, 1.5), (0.0, 0.0)),
    "rosenbrock": (rosenbrock, (-1.5, 2.0), (1.0, 1.0)),
}


def optimize(
    optimizer: keras.optimizers.Optimizer,
    fn: Callable,
    start,
    steps: int,
    on_step: Callable[[keras.optimizers.Optimizer], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Runs ``optimizer`` on ``fn`` from ``start`` (float64). Returns the path ``[steps + 1, 2]``
    and the loss at each point ``[steps + 1]``. ``on_step(optimizer)`` runs after each update
    (e.g. to read its slot variables)."""
    point = keras.Variable(np.asarray(start, np.float64), dtype="float64", name="point")

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = fn(point)
        optimizer.apply([tape.gradient(loss, point)], [point])
        return loss

    path, losses = [np.array(point.numpy())], []
    for _ in range(steps):
        losses.append(float(step()))
        path.append(np.array(point.numpy()))
        if on_step is not None:
            on_step(optimizer)
    losses.append(float(fn(tf.constant(path[-1]))))
    return np.stack(path), np.asarray(losses)
