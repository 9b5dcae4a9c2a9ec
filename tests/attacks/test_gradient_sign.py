"""FGSM and the input gradient against the float64 NumPy reference on a linear-softmax model."""

import numpy as np
import pytest
import tensorflow as tf

from tests.attacks.references import LinearSoftmax, np_fgsm
from tests.helpers import FLOAT32_ATOL
from yeehaw_tf.attacks import cross_entropy, fgsm, input_gradient

SHAPE = (4, 4, 2)


@pytest.fixture(scope="module")
def problem():
    reference = LinearSoftmax.random(SHAPE, classes=5, seed=1)
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (6, *SHAPE)).astype(np.float64)
    images[0, :2] = 0.0  # pixels at both ends of the range, so clipping acts
    images[1, :2] = 255.0
    labels = rng.integers(0, 5, 6)
    return reference, reference.keras_model(SHAPE), images, labels


def test_cross_entropy_is_the_per_example_loss(problem):
    reference, model, images, labels = problem
    loss = cross_entropy(model(images.astype(np.float32)), tf.constant(labels))
    np.testing.assert_allclose(loss.numpy(), reference.loss(images, labels), rtol=1e-5)


def test_input_gradient_matches_the_hand_written_gradient(problem):
    reference, model, images, labels = problem
    gradient = input_gradient(model, tf.constant(images, tf.float32), tf.constant(labels))
    expected = reference.gradient(images, labels)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(gradient.numpy() / scale, expected / scale, atol=FLOAT32_ATOL)


@pytest.mark.parametrize("epsilon", [0.0, 2.5, 8.0, 40.0])
def test_fgsm_matches_the_reference_exactly(problem, epsilon):
    reference, model, images, labels = problem
    expected, smallest = np_fgsm(reference, images, labels, epsilon)
    assert smallest > 1e-4 * np.abs(reference.gradient(images, labels)).max()  # no sign ties
    adversarial = fgsm(model, images.astype(np.float32), labels, epsilon)
    assert adversarial.dtype == tf.float32 and adversarial.shape == images.shape
    np.testing.assert_array_equal(adversarial.numpy(), expected)
    if epsilon:  # the pixel range clipped some pixels, and the rest moved by epsilon exactly
        unclipped = images + epsilon * np.sign(reference.gradient(images, labels))
        assert np.any(unclipped < 0) and np.any(unclipped > 255)
        moved = (unclipped >= 0) & (unclipped <= 255)
        np.testing.assert_array_equal(np.abs(expected - images)[moved], epsilon)


def test_fgsm_increases_the_loss_and_stays_in_range(problem):
    reference, model, images, labels = problem
    adversarial = fgsm(model, images.astype(np.uint8), tf.constant(labels, tf.int32), 8.0)
    x = adversarial.numpy().astype(np.float64)
    assert np.all(reference.loss(x, labels) > reference.loss(images, labels))
    assert x.min() >= 0 and x.max() <= 255 and np.abs(x - images).max() <= 8.0


def test_fgsm_with_another_pixel_range(problem):
    reference, model, images, labels = problem
    scaled = images / 255.0
    adversarial = fgsm(model, scaled.astype(np.float32), labels, 0.1, pixel_range=(0.0, 1.0))
    g = reference.gradient(scaled.astype(np.float32).astype(np.float64), labels)
    expected = np.clip(scaled.astype(np.float32) + np.float32(0.1) * np.sign(g), 0.0, 1.0)
    np.testing.assert_allclose(adversarial.numpy(), expected, atol=1e-7)
