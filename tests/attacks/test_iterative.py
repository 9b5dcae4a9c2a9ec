"""The basic iterative method and the least-likely class method against plain float64 NumPy
loops on a linear-softmax model, with the epsilon-ball and the pixel range both clipping."""

import numpy as np
import pytest
import tensorflow as tf

from tests.attacks.references import LinearSoftmax, np_iterate, np_least_likely_class
from yeehaw_tf.attacks import bim_iterations, iterative_fgsm, least_likely, least_likely_class

SHAPE = (4, 4, 2)


@pytest.fixture(scope="module")
def problem():
    reference = LinearSoftmax.random(SHAPE, classes=5, seed=3)
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (6, *SHAPE)).astype(np.float64)
    images[0, :2], images[1, :2] = 1.0, 254.0  # the pixel range clips after a step or two
    labels = rng.integers(0, 5, 6)
    return reference, reference.keras_model(SHAPE), images, labels


def test_the_iteration_count_is_the_papers():
    # min(eps + 4, 1.25 eps), rounded down, at least one step (Kurakin et al. 2016, sec. 2.3)
    paper = {0: 0, 0.5: 1, 1: 1, 2: 2, 3: 3, 4: 5, 8: 10, 16: 20, 24: 28, 32: 36, 64: 68}
    assert {eps: bim_iterations(eps) for eps in paper} == paper
    assert bim_iterations(255) == 255 + 4


@pytest.mark.parametrize(
    "epsilon, alpha, iterations", [(6.0, 2.0, 5), (3.0, 1.0, 7), (4.0, 1.5, 4), (10.0, 0.5, 0)]
)
def test_iterative_fgsm_matches_the_numpy_loop(problem, epsilon, alpha, iterations):
    reference, model, images, labels = problem
    expected, smallest, by_ball, by_range = np_iterate(
        reference, images, labels, epsilon, alpha, iterations, 1.0, 0.0, 255.0
    )
    adversarial = iterative_fgsm(
        model, images.astype(np.float32), labels, epsilon, alpha, iterations
    )
    np.testing.assert_array_equal(adversarial.numpy(), expected)
    if iterations:
        assert smallest > 1e-6  # no sign ties between float32 and float64
        assert by_ball > 0 and by_range > 0  # both clips acted
    assert np.abs(expected - images).max() <= epsilon


def test_iterative_fgsm_defaults_to_the_papers_rule(problem):
    reference, model, images, labels = problem
    expected, *_ = np_iterate(reference, images, labels, 4.0, 1.0, 5, 1.0, 0.0, 255.0)
    adversarial = iterative_fgsm(model, images.astype(np.float32), labels, 4.0)
    np.testing.assert_array_equal(adversarial.numpy(), expected)
    assert np.all(reference.loss(expected, labels) > reference.loss(images, labels))


def test_epsilon_zero_is_the_identity(problem):
    _, model, images, labels = problem
    x = images.astype(np.float32)
    np.testing.assert_array_equal(iterative_fgsm(model, x, labels, 0.0).numpy(), x)
    np.testing.assert_array_equal(iterative_fgsm(model, x, labels, 0.0, iterations=3).numpy(), x)
    np.testing.assert_array_equal(least_likely(model, x, 0.0).numpy(), x)


def test_least_likely_class_is_the_clean_argmin(problem):
    reference, model, images, _ = problem
    probabilities = np.sort(reference.probabilities(images), axis=1)
    assert np.all(probabilities[:, 1] - probabilities[:, 0] > 1e-6)  # no ties
    target = least_likely_class(model, images.astype(np.float32))
    assert target.dtype == tf.int64
    np.testing.assert_array_equal(target.numpy(), np_least_likely_class(reference, images))


@pytest.mark.parametrize("epsilon, alpha, iterations", [(6.0, 2.0, 5), (8.0, 1.0, None)])
def test_least_likely_descends_towards_the_clean_least_likely_class(
    problem, epsilon, alpha, iterations
):
    reference, model, images, _ = problem
    target = np_least_likely_class(reference, images)
    steps = bim_iterations(epsilon) if iterations is None else iterations
    expected, smallest, by_ball, by_range = np_iterate(
        reference, images, target, epsilon, alpha, steps, -1.0, 0.0, 255.0
    )
    adversarial = least_likely(model, images.astype(np.float32), epsilon, alpha, iterations)
    np.testing.assert_array_equal(adversarial.numpy(), expected)
    assert smallest > 1e-6 and by_ball > 0 and by_range > 0
    assert np.all(reference.loss(expected, target) < reference.loss(images, target))


def test_eager_and_traced_attacks_agree(problem):
    _, model, images, labels = problem
    x, y = tf.constant(images, tf.float32), tf.constant(labels)
    traced = tf.function(
        lambda x, y: (iterative_fgsm(model, x, y, 6.0, 2.0, 5), least_likely(model, x, 6.0, 2.0))
    )
    eager = (iterative_fgsm(model, x, y, 6.0, 2.0, 5), least_likely(model, x, 6.0, 2.0))
    for a, b in zip(traced(x, y), eager, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
