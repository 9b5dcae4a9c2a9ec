"""Minibatch SGD, with classical or Nesterov momentum."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class SGD(keras.optimizers.Optimizer):
    """Stochastic gradient descent on minibatches (the notes' "Minibatch SGD").

    Without momentum: ``w -= lr * g``. With momentum ``beta`` (Polyak, 1964), in the velocity
    form Keras and PyTorch-with-dampening-0 use (equivalent to ``v = beta v + g; w -= lr v``
    for a constant learning rate)::

        v = beta * v - lr * g
        w = w + v                        (classical)
        w = w + beta * v - lr * g        (Nesterov, 1983: the look-ahead form of Sutskever 2013)

    ``v`` starts at 0. ``weight_decay`` (decoupled: ``w -= lr * weight_decay * w`` each step),
    ``clipnorm``, ``global_clipnorm`` and ``clipvalue`` are the base class's.

    Args:
        learning_rate: a float or a ``LearningRateSchedule`` (default 0.01, as Keras).
        momentum: ``beta`` in [0, 1) (default 0: plain SGD).
        nesterov: use Nesterov momentum (needs ``momentum > 0``).
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        name: str = "sgd",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = (
            [self.add_variable_from_reference(v, "velocity") for v in variables]
            if self.momentum
            else []
        )

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        if not self.momentum:
            self.assign_sub(variable, lr * g)
            return
        v = self.velocities[self._get_variable_index(variable)]
        beta = ops.convert_to_tensor(self.momentum, variable.dtype)  # exact, unlike ops.cast
        self.assign(v, beta * v - lr * g)
        self.assign_add(variable, beta * v - lr * g if self.nesterov else v)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
