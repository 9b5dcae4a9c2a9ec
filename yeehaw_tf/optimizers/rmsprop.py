"""RMSProp (Tieleman & Hinton, 2012, lecture 6e)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class RMSProp(keras.optimizers.Optimizer):
    """AdaGrad with a leaky history: old squared gradients are down-weighted by ``rho``::

        s = rho * s + (1 - rho) * g^2
        d = s + epsilon                         (centered: d = s - a^2 + epsilon, with
                                                  a = rho * a + (1 - rho) * g)
        step = lr * g / sqrt(d)
        m = momentum * m + step;  w = w - m     (with momentum; else w = w - step)

    Defaults follow Keras: ``rho`` 0.9, ``epsilon`` 1e-7 inside the square root, learning rate
    0.001; ``s``, ``a`` and ``m`` start at 0.

    Args:
        rho: the history's decay in [0, 1).
        momentum: in [0, 1).
        centered: normalise by the gradient's estimated variance instead of its second moment.
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        name: str = "rmsprop",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        for arg, value in (("rho", rho), ("momentum", momentum)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"RMSProp: {arg} must be in [0, 1), got {value}")
        if not epsilon > 0:
            raise ValueError(f"RMSProp: epsilon must be > 0, got {epsilon}")
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.second_moments = [
            self.add_variable_from_reference(v, "second_moment") for v in variables
        ]
        self.momentums = (
            [self.add_variable_from_reference(v, "momentum") for v in variables]
            if self.momentum
            else []
        )
        self.mean_gradients = (
            [self.add_variable_from_reference(v, "mean_gradient") for v in variables]
            if self.centered
            else []
        )

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        s = self.second_moments[index]
        self.assign(s, self.rho * s + (1.0 - self.rho) * ops.square(g))
        denominator = s + self.epsilon
        if self.centered:
            a = self.mean_gradients[index]
            self.assign(a, self.rho * a + (1.0 - self.rho) * g)
            denominator = denominator - ops.square(a)
        step = lr * g / ops.sqrt(denominator)
        if self.momentum:
            m = self.momentums[index]
            self.assign(m, self.momentum * m + step)
            step = m
        self.assign_sub(variable, step)

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }
