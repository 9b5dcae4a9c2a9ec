"""AdaGrad (Duchi, Hazan & Singer, 2011)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class AdaGrad(keras.optimizers.Optimizer):
    """Per-parameter steps scaled by the whole history of squared gradients::

        s = s + g^2
        w = w - lr * g / sqrt(s + epsilon)

    The history is never forgotten, so the effective step ``lr / sqrt(s)`` only shrinks: good
    for sparse features, too fast a decay for deep networks (the notes' point; RMSProp fixes it).

    Defaults follow Keras (and TF): ``s`` starts at 0.1 and ``epsilon`` (1e-7) is inside the
    square root; the paper starts ``s`` at 0 and adds ``delta`` outside it.

    Args:
        learning_rate: default 0.001 (Keras's).
        initial_accumulator_value: the starting ``s``, >= 0.
        epsilon: > 0.
    """

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        name: str = "adagrad",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not initial_accumulator_value >= 0:
            raise ValueError(
                f"AdaGrad: initial_accumulator_value must be >= 0, got {initial_accumulator_value}"
            )
        if not epsilon > 0:
            raise ValueError(f"AdaGrad: epsilon must be > 0, got {epsilon}")
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        value = self.initial_accumulator_value

        def start(shape, dtype=None):  # exact in the variable's dtype (Constant goes via float32)
            return ops.full(shape, value, dtype=dtype)

        self.accumulators = [
            self.add_variable_from_reference(v, "accumulator", initializer=start) for v in variables
        ]

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        s = self.accumulators[self._get_variable_index(variable)]
        self.assign_add(s, ops.square(g))
        self.assign_sub(variable, lr * g / ops.sqrt(s + self.epsilon))

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
