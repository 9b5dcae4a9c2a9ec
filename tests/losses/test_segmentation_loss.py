import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.losses.segmentation import PixelwiseCrossEntropy


def _data(seed=0, shape=(3, 5, 6), classes=4):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(*shape, classes)).astype(np.float32) * 3
    labels = rng.integers(0, classes, size=shape)
    return labels, logits


def _reference(labels, logits, ignore=None, weights=None):
    """Float64, from the formula: mean over each image's counted pixels of -w[y] log softmax."""
    z = logits.astype(np.float64)
    log_p = z - z.max(-1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(-1, keepdims=True))
    out = []
    for image_labels, image_log_p in zip(labels, log_p, strict=True):
        total, count = 0.0, 0
        for (i, j), y in np.ndenumerate(image_labels):
            if y == ignore:
                continue
            total += -image_log_p[i, j, y] * (1.0 if weights is None else weights[y])
            count += 1
        out.append(total / max(count, 1))
    return np.asarray(out)


def test_per_image_mean_equals_the_formula_and_keras():
    labels, logits = _data()
    ours = PixelwiseCrossEntropy(reduction=None)(labels, logits).numpy()
    np.testing.assert_allclose(ours, _reference(labels, logits), rtol=1e-5)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(
        PixelwiseCrossEntropy()(labels, logits), keras_loss(labels, logits), rtol=1e-5
    )


def test_ignore_class_and_class_weights():
    labels, logits = _data(1)
    labels[0, :2] = 255
    labels[2] = 255  # an image with nothing to learn from gives 0, not NaN
    ours = PixelwiseCrossEntropy(ignore_class=255, reduction=None)(labels, logits).numpy()
    np.testing.assert_allclose(ours, _reference(labels, logits, ignore=255), rtol=1e-5)
    assert ours[2] == 0.0
    weights = [0.5, 1.0, 2.0, 0.0]
    labels, logits = _data(2)
    ours = PixelwiseCrossEntropy(class_weights=weights, reduction=None)(labels, logits)
    np.testing.assert_allclose(ours, _reference(labels, logits, weights=weights), rtol=1e-5)


def test_labels_with_a_channel_axis_and_gradient():
    labels, logits = _data(3)
    logits = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = PixelwiseCrossEntropy()(labels[..., None], logits)
    grad = tape.gradient(loss, logits).numpy()
    # d mean / d z = (softmax - onehot) / number of pixels
    p = tf.nn.softmax(logits).numpy()
    expected = (p - np.eye(4)[labels]) / labels.size
    np.testing.assert_allclose(grad, expected, atol=1e-7)


def test_bad_inputs_are_refused():
    labels, logits = _data()
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be in"):
        PixelwiseCrossEntropy()(labels + 4, logits)
    with pytest.raises(ValueError, match="y_pred must be logits"):
        PixelwiseCrossEntropy()(labels, logits[:, 0])
    with pytest.raises(ValueError, match="class_weights has 2 entries"):
        PixelwiseCrossEntropy(class_weights=[1, 2])(labels, logits)
    with pytest.raises(ValueError, match="class_weights"):
        PixelwiseCrossEntropy(class_weights=[-1, 2])
    with pytest.raises(ValueError, match="ignore_class"):
        PixelwiseCrossEntropy(ignore_class=1.5)


def test_config_round_trip():
    loss = PixelwiseCrossEntropy(ignore_class=255, class_weights=[1.0, 2.0])
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert clone.get_config() == loss.get_config()
