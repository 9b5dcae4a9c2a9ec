"""Adam (Kingma & Ba, 2015), AMSGrad (Reddi et al., 2018) and AdamW (Loshchilov & Hutter, 2019)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class Adam(keras.optimizers.Optimizer):
    """Momentum and RMSProp together, with bias correction (the notes' "adam")::

        t = t + 1
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g^2
        v_max = max(v_max, v); v = v_max                     (AMSGrad only)
        w = w - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

    The last line is the paper's "epsilon-hat" form (end of its section 2), which Keras and TF
    use: the bias corrections are folded into the step size, once per step for all variables.
    The moments are updated in place as ``m += (1 - beta_1) * (g - m)`` (and likewise ``v``),
    the same average in one pass fewer over the slot. Algorithm 1 of the paper divides
    ``m / (1 - beta_1^t)`` by ``sqrt(v / (1 - beta_2^t)) + epsilon`` instead; the two differ only
    in where ``epsilon`` sits. Default ``epsilon`` is Keras's 1e-7; the paper's is 1e-8. Other
    defaults (the paper's and Keras's): learning rate 0.001, beta_1 0.9, beta_2 0.999.

    Args:
        beta_1, beta_2: decay rates of the first and second moment estimates, in [0, 1).
        epsilon: > 0.
        amsgrad: use the running maximum of ``v`` (never-increasing effective steps).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        name: str = "adam",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        for arg, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{type(self).__name__}: {arg} must be in [0, 1), got {value}")
        if not epsilon > 0:
            raise ValueError(f"{type(self).__name__}: epsilon must be > 0, got {epsilon}")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.first_moments = [
            self.add_variable_from_reference(v, "first_moment") for v in variables
        ]
        self.second_moments = [
            self.add_variable_from_reference(v, "second_moment") for v in variables
        ]
        self.max_second_moments = (
            [self.add_variable_from_reference(v, "max_second_moment") for v in variables]
            if self.amsgrad
            else []
        )

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        """Keras's loop over the variables, handed the bias-corrected step size instead of the
        learning rate: the corrections depend only on the step, so they are computed once here
        rather than once per variable (for 40 variables the compiled apply then has 985 graph
        ops instead of 1,648)."""
        step_size = self._bias_corrected(learning_rate, trainable_variables)
        super()._backend_update_step(grads, trainable_variables, step_size)

    def _bias_corrected(self, learning_rate, variables):
        """``lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`` in float64 if any variable is float64,
        else in float32 (in bfloat16, 0.999 rounds to 1 and the step would be 0)."""
        wide = "float64" if any(v.dtype == "float64" for v in variables) else "float32"
        t = ops.cast(self.iterations + 1, wide)
        beta_1 = ops.convert_to_tensor(self.beta_1, wide)
        beta_2 = ops.convert_to_tensor(self.beta_2, wide)
        correction = ops.sqrt(1.0 - ops.power(beta_2, t)) / (1.0 - ops.power(beta_1, t))
        return ops.cast(learning_rate, wide) * correction

    def update_step(self, gradient, variable, step_size):
        """Updates one variable; ``step_size`` is the bias-corrected learning rate."""
        dtype = variable.dtype
        g = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m, v = self.first_moments[index], self.second_moments[index]
        self.assign_add(m, (g - m) * (1.0 - self.beta_1))
        self.assign_add(v, (ops.square(g) - v) * (1.0 - self.beta_2))
        second = v
        if self.amsgrad:
            v_max = self.max_second_moments[index]
            self.assign(v_max, ops.maximum(v_max, v))
            second = v_max
        step = ops.cast(step_size, dtype) * m / (ops.sqrt(second) + self.epsilon)
        self.assign_sub(variable, step)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): each step also does
    ``w -= lr * weight_decay * w``, separately from the gradient, so the decay is not rescaled by
    Adam's per-parameter step sizes as an L2 penalty in the loss would be.

    The decay is multiplied by the learning rate (schedule included), as in PyTorch and Keras;
    the paper writes it as ``eta_t * lambda`` with ``eta_t`` the schedule multiplier, which is the
    same when the learning rate is ``alpha * eta_t`` and ``lambda`` absorbs ``alpha``.

    Args:
        weight_decay: default 0.01 (PyTorch's; Keras's AdamW uses 0.004).
    """

    def __init__(
        self, learning_rate=0.001, weight_decay: float = 0.01, name: str = "adamw", **kwargs
    ):
        if not weight_decay > 0:
            raise ValueError(f"AdamW: weight_decay must be > 0, got {weight_decay}")
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, name=name, **kwargs
        )
