"""Kullback-Leibler and Jensen-Shannon divergences between discrete distributions.

Kullback & Leibler 1951, "On Information and Sufficiency"; Lin 1991, "Divergence measures based
on the Shannon entropy" (the Jensen-Shannon divergence). Goodfellow et al. 2014, "Generative
Adversarial Nets" (Theorem 1): at the optimal discriminator the GAN value function is
``2 JSD(P_data || P_g) - log 4``. All logarithms are natural (nats)::

    KL(P || Q)  = sum_x P(x) log(P(x) / Q(x))
    JSD(P, Q)   = 1/2 KL(P || M) + 1/2 KL(Q || M),   M = (P + Q) / 2

with the limits ``0 log(0 / q) = 0`` (also for ``q = 0``) and ``p log(p / 0) = +inf`` for
``p > 0``. ``JSD`` is symmetric, always finite and lies in ``[0, log 2]`` (up to rounding: it is
not clipped, so a value like ``-1e-17`` can come back for equal inputs).

Every function reduces over the last axis (the support); leading axes are a batch. Inputs are
float32 or float64 tensors (or array-likes) of the same shape and dtype. The probability
versions expect distributions along the last axis (non-negative, summing to one); that is not
checked unless ``check=True``, which adds cheap ``tf.debugging`` assertions (they work in eager
mode and inside ``tf.function``).

Gradients: a term with ``p = 0`` is masked with the "double ``where``" (the masked branch sees
safe inputs), so it contributes zero gradient to both ``p`` and ``q`` instead of NaN, the same
convention as ``tf.math.xlogy``. Where ``p > 0`` and ``q = 0`` the value is ``+inf`` and so is
the gradient with respect to ``q``.
"""

from __future__ import annotations

import math

import tensorflow as tf

_FLOAT_DTYPES = (tf.float32, tf.float64)
# tolerance on sum(p) == 1 under check=True
_SUM_ATOL = {tf.float32: 1e-4, tf.float64: 1e-9}


def _pair(x, y, x_name: str, y_name: str) -> tuple[tf.Tensor, tf.Tensor]:
    """Converts ``x`` and ``y`` to tensors and checks they share a float dtype and a shape."""
    x = tf.convert_to_tensor(x)
    y = tf.convert_to_tensor(y)
    if x.dtype not in _FLOAT_DTYPES or y.dtype not in _FLOAT_DTYPES:
        raise ValueError(
            f"{x_name} and {y_name} must be float32 or float64, got {x_name}: {x.dtype.name} "
            f"and {y_name}: {y.dtype.name}"
        )
    if x.dtype != y.dtype:
        raise ValueError(
            f"{x_name} and {y_name} must have the same dtype, got {x_name}: {x.dtype.name} and "
            f"{y_name}: {y.dtype.name}; cast one of them"
        )
    if x.shape.rank == 0 or y.shape.rank == 0:
        raise ValueError(
            f"{x_name} and {y_name} must have at least one axis (the support), got "
            f"{x_name}: {x.shape} and {y_name}: {y.shape}"
        )
    if not x.shape.is_compatible_with(y.shape):
        raise ValueError(
            f"{x_name} and {y_name} must have the same shape, got {x_name}: {x.shape} and "
            f"{y_name}: {y.shape}"
        )
    if not (x.shape.is_fully_defined() and y.shape.is_fully_defined()):
        # unknown dimensions (tf.function with None in the signature): check when run, before
        # anything reads x or y (a graph may otherwise run a broadcasting op first and fail
        # with its own message)
        same = tf.debugging.assert_equal(
            tf.shape(x),
            tf.shape(y),
            message=f"{x_name} and {y_name} must have the same shape",
        )
        with tf.control_dependencies([same] if same is not None else []):
            x, y = tf.identity(x), tf.identity(y)
    return x, y


def _check_distribution(p: tf.Tensor, name: str) -> None:
    """Asserts ``p`` is non-negative and sums to one along the last axis."""
    tf.debugging.assert_non_negative(p, message=f"{name} must be non-negative")
    tf.debugging.assert_near(
        tf.reduce_sum(p, axis=-1),
        tf.ones([], p.dtype),
        rtol=0.0,
        atol=_SUM_ATOL[p.dtype],
        message=f"{name} must sum to 1 along the last axis",
    )


def _kl_terms(p: tf.Tensor, q: tf.Tensor) -> tf.Tensor:
    """Elementwise ``p log(p / q)`` with ``0 log(0 / q) = 0`` and ``p log(p / 0) = +inf``.

    Double ``where``: the masked (``p = 0``) entries see ``p = q = 1`` so neither the value nor
    the gradient of the discarded branch is NaN.
    """
    positive = p > 0
    one = tf.ones_like(p)
    safe_p = tf.where(positive, p, one)
    safe_q = tf.where(positive, q, one)
    terms = safe_p * (tf.math.log(safe_p) - tf.math.log(safe_q))
    return tf.where(positive, terms, tf.zeros_like(terms))


def kl_divergence(p, q, check: bool = False) -> tf.Tensor:
    """``KL(P || Q) = sum_x P(x) log(P(x) / Q(x))`` over the last axis (Kullback & Leibler 1951).

    Args:
        p: ``[..., K]`` distribution ``P`` (float32 or float64).
        q: ``[..., K]`` distribution ``Q``, same shape and dtype as ``p``.
        check: assert that ``p`` and ``q`` are distributions (non-negative, sum to 1).

    Returns:
        ``[...]`` divergence in nats, ``>= 0``; ``+inf`` where some ``p > 0`` meets ``q = 0``.
        Terms with ``p = 0`` are zero (even if ``q = 0``) and pass no gradient.
    """
    p, q = _pair(p, q, "p", "q")
    if check:
        _check_distribution(p, "p")
        _check_distribution(q, "q")
    return tf.reduce_sum(_kl_terms(p, q), axis=-1)


def js_divergence(p, q, check: bool = False) -> tf.Tensor:
    """``JSD(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M)``, ``M = (P + Q) / 2`` (Lin 1991).

    Args:
        p: ``[..., K]`` distribution ``P`` (float32 or float64).
        q: ``[..., K]`` distribution ``Q``, same shape and dtype as ``p``.
        check: assert that ``p`` and ``q`` are distributions (non-negative, sum to 1).

    Returns:
        ``[...]`` divergence in nats: symmetric, finite, in ``[0, log 2]`` (``log 2`` for
        disjoint supports). It is the square of SciPy's ``jensenshannon`` distance.
    """
    p, q = _pair(p, q, "p", "q")
    if check:
        _check_distribution(p, "p")
        _check_distribution(q, "q")
    m = 0.5 * (p + q)
    return 0.5 * tf.reduce_sum(_kl_terms(p, m) + _kl_terms(q, m), axis=-1)


def kl_divergence_from_logits(logits_p, logits_q) -> tf.Tensor:
    """``KL(softmax(logits_p) || softmax(logits_q))`` over the last axis, computed stably.

    With ``log P = log_softmax(logits_p)`` and ``log Q = log_softmax(logits_q)``,
    ``KL = sum_x exp(log P(x)) (log P(x) - log Q(x))``: no probability is ever divided or put
    through ``log``, so logits of any magnitude (e.g. +-80 in float32, where ``softmax``
    underflows to exact zeros) give a finite value and finite gradients.

    Args:
        logits_p: ``[..., K]`` unnormalised log-probabilities of ``P`` (float32 or float64).
        logits_q: ``[..., K]`` unnormalised log-probabilities of ``Q``, same shape and dtype.

    Returns:
        ``[...]`` divergence in nats.
    """
    logits_p, logits_q = _pair(logits_p, logits_q, "logits_p", "logits_q")
    log_p = tf.nn.log_softmax(logits_p, axis=-1)
    log_q = tf.nn.log_softmax(logits_q, axis=-1)
    return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)


def js_divergence_from_logits(logits_p, logits_q) -> tf.Tensor:
    """``JSD(softmax(logits_p), softmax(logits_q))`` over the last axis, computed stably.

    ``log M = logsumexp(log P, log Q) - log 2`` (the mixture in log space), then
    ``JSD = 1/2 sum P (log P - log M) + 1/2 sum Q (log Q - log M)``.

    Args:
        logits_p: ``[..., K]`` unnormalised log-probabilities of ``P`` (float32 or float64).
        logits_q: ``[..., K]`` unnormalised log-probabilities of ``Q``, same shape and dtype.

    Returns:
        ``[...]`` divergence in nats, in ``[0, log 2]``.
    """
    logits_p, logits_q = _pair(logits_p, logits_q, "logits_p", "logits_q")
    log_p = tf.nn.log_softmax(logits_p, axis=-1)
    log_q = tf.nn.log_softmax(logits_q, axis=-1)
    # reduce_logsumexp (not max + log1p(exp(-|a - b|))): its gradient is right at ties a == b
    log_m = tf.reduce_logsumexp(tf.stack([log_p, log_q], axis=0), axis=0) - math.log(2.0)
    terms = tf.exp(log_p) * (log_p - log_m) + tf.exp(log_q) * (log_q - log_m)
    return 0.5 * tf.reduce_sum(terms, axis=-1)
