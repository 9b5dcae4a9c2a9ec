"""The attacks on a registered classifier (small_resnet behind ChannelStandardization, as the
classification task builds it): they hurt it, stay in the epsilon-ball and the pixel range,
and run inside a tf.function training step under an outer tape, also per replica."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.attacks.references import LinearSoftmax
from yeehaw_tf.attacks import ATTACKS, cross_entropy, fgsm, least_likely_class
from yeehaw_tf.layers import ChannelStandardization
from yeehaw_tf.models.registry import build

SHAPE = (8, 8, 1)
EPSILON = 8.0


def _classifier() -> keras.Model:
    inputs = keras.Input(SHAPE, name="images")
    x = ChannelStandardization([127.5], [70.0])(inputs)
    return keras.Model(inputs, build("small_resnet", 10, SHAPE)(x))


@pytest.fixture(scope="module")
def setting():
    keras.utils.set_random_seed(5)
    model = _classifier()
    images = np.random.default_rng(6).integers(0, 256, (32, *SHAPE)).astype(np.float32)
    # the model's own clean predictions as labels: clean accuracy 1, so any drop is the attack's
    labels = tf.argmax(model(images), axis=-1)
    return model, images, labels


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attacks_stay_in_the_ball_and_the_pixel_range_and_hurt_the_model(setting, name):
    model, images, labels = setting
    adversarial = ATTACKS[name](model, images, labels, EPSILON).numpy()
    assert adversarial.dtype == np.float32 and adversarial.shape == images.shape
    assert np.abs(adversarial - images).max() <= EPSILON
    assert adversarial.min() >= 0.0 and adversarial.max() <= 255.0
    predicted = tf.argmax(model(adversarial), axis=-1)
    assert np.mean(predicted.numpy() == labels.numpy()) < 1.0  # clean: 1.0
    if name == "least_likely":  # it descends the loss of the clean least-likely class
        target = least_likely_class(model, images)
        before, after = (
            cross_entropy(model(x), target).numpy().mean() for x in (images, adversarial)
        )
        assert after < before
    else:
        before, after = (
            cross_entropy(model(x), labels).numpy().mean() for x in (images, adversarial)
        )
        assert after > before


def _adversarial_step(model, epsilon):
    """What adversarial training does: attack inside the step, then differentiate the loss on
    the adversarial images with respect to the weights under an outer tape."""

    def step(images, labels):
        with tf.GradientTape() as tape:
            adversarial = fgsm(model, images, labels, epsilon)
            loss = tf.reduce_mean(cross_entropy(model(adversarial, training=True), labels))
        return adversarial, tape.gradient(loss, model.trainable_variables)

    return step


def test_fgsm_inside_a_training_step_gives_the_weights_the_gradient_at_fixed_images():
    shape = (4, 4, 2)
    model = LinearSoftmax.random(shape, classes=5, seed=7).keras_model(shape)
    rng = np.random.default_rng(8)
    images = rng.integers(0, 256, (6, *shape)).astype(np.float32)
    labels = tf.constant(rng.integers(0, 5, 6))
    adversarial, gradients = tf.function(_adversarial_step(model, 8.0))(images, labels)
    np.testing.assert_array_equal(adversarial.numpy(), fgsm(model, images, labels, 8.0).numpy())
    with tf.GradientTape() as tape:  # the same loss with the adversarial images as constants
        loss = tf.reduce_mean(cross_entropy(model(adversarial), labels))
    for got, expected in zip(
        gradients, tape.gradient(loss, model.trainable_variables), strict=True
    ):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-7)


def test_fgsm_runs_in_a_replica_step(setting, two_replicas):
    _, images, labels = setting
    with two_replicas.scope():
        model = _classifier()
    step = _adversarial_step(model, EPSILON)

    @tf.function
    def distributed(images, labels):
        adversarial, gradients = two_replicas.run(step, args=(images, labels))
        return two_replicas.gather(adversarial, axis=0), gradients

    dataset = tf.data.Dataset.from_tensors((images, labels))
    batch = next(iter(two_replicas.experimental_distribute_dataset(dataset)))
    adversarial, gradients = distributed(*batch)
    assert adversarial.shape == images.shape
    assert np.abs(adversarial.numpy() - images).max() <= EPSILON
    assert all(g is not None for g in gradients)
    assert all(
        np.all(np.isfinite(two_replicas.experimental_local_results(g)[0])) for g in gradients
    )


def test_attacks_run_under_mixed_precision_and_return_float32():
    shape = (4, 4, 2)
    reference = LinearSoftmax.random(shape, classes=5, seed=11)
    keras.mixed_precision.set_dtype_policy("mixed_float16")  # the conftest fixture resets it
    model = reference.keras_model(shape)
    images = np.random.default_rng(12).integers(0, 256, (6, *shape)).astype(np.float32)
    labels = np.arange(6) % 5
    for name, attack in ATTACKS.items():
        adversarial = attack(model, images, labels, 4.0).numpy()
        assert adversarial.dtype == np.float32 and np.abs(adversarial - images).max() <= 4.0, name
    adversarial = ATTACKS["iterative_fgsm"](model, images, labels, 4.0).numpy()
    x = adversarial.astype(np.float64)
    assert np.all(reference.loss(x, labels) > reference.loss(images.astype(np.float64), labels))
