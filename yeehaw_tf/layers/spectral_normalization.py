"""Spectral normalisation (Miyato et al., 2018): a Dense or Conv layer's kernel divided by its
largest singular value, estimated by power iteration."""

from __future__ import annotations

import keras
from keras import ops

from yeehaw_tf.layers.kernel_wrappers import TRANSPOSED_CONVS, apply_with_kernel, check_wrappable


def _normalize(x, epsilon: float):
    """``x / max(||x||, epsilon)`` (PyTorch's ``F.normalize``): a zero vector stays zero."""
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x))), epsilon)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class SpectralNormalization(keras.layers.Wrapper):
    """Spectral normalisation (Miyato et al., 2018, "Spectral Normalization for Generative
    Adversarial Networks"): the wrapped layer applies ``W / sigma(W)``.

    ``W`` is the wrapped layer's kernel seen as the matrix ``W_mat`` of shape
    ``[prod(other axes), out_channels]`` (for a transposed convolution the output axis is -2,
    moved last first). The paper's matrix is ``A = W_mat^T`` (``y = A x``) and ``sigma(W)`` its
    largest singular value, estimated by power iteration from a persistent, non-trainable unit
    vector ``u`` (length ``out_channels``):

        v = normalize(A^T u),  u = normalize(A v)      (``power_iterations`` times)

    after which ``sigma = u^T A v`` with ``v = normalize(A^T u)``. ``u`` and ``v`` are held
    constant for the gradient (``stop_gradient``, as in the paper and PyTorch), so the gradient
    reaches ``W`` through both the numerator and ``sigma = u^T A v``. ``sigma`` depends on the
    stored ``u`` and ``W`` alone, so an inference call right after a training step reproduces
    that step's kernel exactly.

    ``u`` is updated (assigned) only in training-mode calls; inference calls leave it alone.
    It starts as a seeded random normal vector scaled to unit length, so a few training calls
    (or ``power_iterations`` > 1) are needed before ``sigma`` is accurate.

    Args:
        layer: a ``keras.layers.Dense``, ``Conv1D/2D/3D`` or ``Conv1D/2D/3DTranspose``.
        power_iterations: power-iteration steps per training call, an int >= 1.
        epsilon: > 0; the floor on vector norms and on ``sigma`` (a zero kernel stays zero).
        seed: an integer seed for ``u``'s initial value, or None.

    Input and output shapes: those of the wrapped layer.
    """

    def __init__(
        self,
        layer: keras.layers.Layer,
        power_iterations: int = 1,
        epsilon: float = 1e-12,
        seed: int | None = None,
        **kwargs,
    ):
        self._transposed = type(layer) in TRANSPOSED_CONVS
        if not self._transposed:
            check_wrappable("SpectralNormalization", layer)
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int):
            raise ValueError(
                f"SpectralNormalization: power_iterations must be an int >= 1, "
                f"got {power_iterations!r}"
            )
        if power_iterations < 1:
            raise ValueError(
                f"SpectralNormalization: power_iterations must be >= 1, got {power_iterations}"
            )
        if not epsilon > 0:
            raise ValueError(f"SpectralNormalization: epsilon must be > 0, got {epsilon}")
        self.power_iterations = power_iterations
        self.epsilon = float(epsilon)
        self.seed = seed

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        out_channels = self.layer.kernel.shape[-2 if self._transposed else -1]
        normal = keras.initializers.RandomNormal(seed=self.seed)

        def unit_normal(shape, dtype=None):
            x = normal(shape, dtype=dtype)
            return x / ops.sqrt(ops.sum(ops.square(x)))

        self.u = self.add_weight(
            shape=(out_channels,), initializer=unit_normal, trainable=False, name="u"
        )

    def _matrix(self, kernel):
        """The kernel as ``W_mat``: ``[prod(other axes), out_channels]``."""
        if self._transposed:
            kernel = ops.moveaxis(kernel, -2, -1)
        return ops.reshape(kernel, (-1, kernel.shape[-1]))

    def _power_iteration(self, w_mat, u):
        """``power_iterations`` steps of ``v = normalize(A^T u), u = normalize(A v)``
        (``A = w_mat^T``), without gradient."""
        w_mat = ops.stop_gradient(w_mat)
        for _ in range(self.power_iterations):
            v = _normalize(ops.matmul(w_mat, u), self.epsilon)
            u = _normalize(ops.matmul(ops.transpose(w_mat), v), self.epsilon)
        return u

    def _sigma(self, w_mat, u):
        """``u^T A v`` with ``v = normalize(A^T u)``; ``u`` and ``v`` held constant."""
        u = ops.stop_gradient(u)
        v = ops.stop_gradient(_normalize(ops.matmul(w_mat, u), self.epsilon))
        return ops.maximum(ops.sum(v * ops.matmul(w_mat, u)), self.epsilon)

    def sigma(self):
        """The current estimate of the kernel's largest singular value (no update)."""
        w_mat = self._matrix(self.layer.kernel)
        return self._sigma(w_mat, ops.cast(self.u, w_mat.dtype))

    def kernel(self):
        """The effective kernel ``W / sigma`` for the current ``u`` (no update)."""
        return self.layer.kernel / self.sigma()

    def call(self, inputs, training=None):
        kernel = self.layer.kernel
        w_mat = self._matrix(kernel)
        u = ops.cast(self.u, w_mat.dtype)
        if training:
            u = self._power_iteration(w_mat, u)
            self.u.assign(ops.cast(u, self.u.dtype))
        kernel = kernel / self._sigma(w_mat, u)
        return apply_with_kernel(self.layer, inputs, kernel)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "power_iterations": self.power_iterations,
            "epsilon": self.epsilon,
            "seed": self.seed,
        }
