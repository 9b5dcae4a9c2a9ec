"""Bad arguments are refused with a ValueError naming the argument and what it takes."""

import numpy as np
import pytest
import tensorflow as tf

from tests.attacks.references import LinearSoftmax
from yeehaw_tf.attacks import (
    ATTACKS,
    attack_report,
    bim_iterations,
    fgsm,
    get_attack,
    iterative_fgsm,
    least_likely,
)

SHAPE = (2, 2, 1)


@pytest.fixture(scope="module")
def model():
    return LinearSoftmax.random(SHAPE, classes=3).keras_model(SHAPE)


IMAGES = np.full((2, *SHAPE), 100.0, np.float32)
LABELS = np.array([0, 1])


@pytest.mark.parametrize("name", list(ATTACKS))
@pytest.mark.parametrize("epsilon", [-1.0, 255.5, 1000, float("nan"), "8", True, None])
def test_epsilon_outside_the_pixel_range_is_refused(model, name, epsilon):
    with pytest.raises(ValueError, match=r"epsilon must be .*\[0, 255\]"):
        ATTACKS[name](model, IMAGES, LABELS, epsilon)


def test_epsilon_is_measured_against_the_given_pixel_range(model):
    with pytest.raises(ValueError, match=r"epsilon must be a number in \[0, 1\]"):
        fgsm(model, IMAGES / 255, LABELS, 8.0, pixel_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="epsilon must be"):
        bim_iterations(-2)


@pytest.mark.parametrize("pixel_range", [(255.0, 0.0), (0.0, 0.0), (0.0,), None, (0, float("inf"))])
def test_a_bad_pixel_range_is_refused(model, pixel_range):
    with pytest.raises(ValueError, match="pixel_range must be a pair"):
        fgsm(model, IMAGES, LABELS, 1.0, pixel_range=pixel_range)


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("inf"), None])
def test_a_non_positive_alpha_is_refused(model, alpha):
    with pytest.raises(ValueError, match="alpha must be a positive number"):
        iterative_fgsm(model, IMAGES, LABELS, 4.0, alpha=alpha)
    with pytest.raises(ValueError, match="alpha must be a positive number"):
        least_likely(model, IMAGES, 4.0, alpha=alpha)


@pytest.mark.parametrize("iterations", [-1, 2.5, True, "3"])
def test_a_negative_or_fractional_iteration_count_is_refused(model, iterations):
    with pytest.raises(ValueError, match=r"iterations must be an integer >= 0"):
        iterative_fgsm(model, IMAGES, LABELS, 4.0, iterations=iterations)
    with pytest.raises(ValueError, match=r"iterations must be an integer >= 0"):
        least_likely(model, IMAGES, 4.0, iterations=iterations)


@pytest.mark.parametrize("name", ["fgsm", "iterative_fgsm"])
@pytest.mark.parametrize(
    "labels", [np.array([0, 1, 2]), np.array([[0], [1]]), np.array(0), np.array([0.0, 1.0])]
)
def test_labels_that_do_not_fit_the_images_are_refused(model, name, labels):
    with pytest.raises(ValueError, match="labels must"):
        ATTACKS[name](model, IMAGES, labels, 4.0)


def test_a_batch_size_mismatch_known_only_at_run_time_is_caught(model):
    attack = tf.function(
        lambda x, y: fgsm(model, x, y, 4.0),
        input_signature=[
            tf.TensorSpec([None, *SHAPE], tf.float32),
            tf.TensorSpec([None], tf.int64),
        ],
    )
    assert attack(IMAGES, LABELS).shape == IMAGES.shape
    with pytest.raises(tf.errors.InvalidArgumentError, match="one class index per image"):
        attack(IMAGES, tf.constant([0, 1, 2], tf.int64))


def test_images_must_be_a_numeric_batch(model):
    with pytest.raises(ValueError, match="images must be a batch"):
        fgsm(model, np.zeros(4, np.float32), LABELS, 1.0)
    with pytest.raises(ValueError, match="images must be a numeric tensor"):
        fgsm(model, tf.constant(["a", "b"]), LABELS, 1.0)


def test_an_unknown_attack_is_refused_by_name(model):
    with pytest.raises(ValueError, match="unknown attack 'pgd'; valid names: fgsm, iterative"):
        get_attack("pgd")
    data = [(IMAGES, LABELS)]
    with pytest.raises(ValueError, match="unknown attack 'pgd'"):
        attack_report(model, data, [0.0], ["pgd"])
    with pytest.raises(ValueError, match="epsilon must be"):
        attack_report(model, data, [300.0], ["fgsm"])
    with pytest.raises(ValueError, match="max_examples must be a positive integer"):
        attack_report(model, data, [1.0], ["fgsm"], max_examples=0)


def test_a_model_whose_output_ignores_its_input_is_refused():
    import keras

    inputs = keras.Input(SHAPE)
    constant = keras.Model(inputs, keras.layers.Dense(3)(keras.ops.zeros_like(inputs[:, 0, 0])))
    with pytest.raises(ValueError, match="do not depend on its input"):
        fgsm(constant, IMAGES, LABELS, 1.0)
