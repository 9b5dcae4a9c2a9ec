import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.metrics.segmentation import MeanIoU, PixelAccuracy


def _batches(seed=0, n=3, classes=5):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        labels = rng.integers(0, classes - 1, size=(2, 6, 7))  # the last class never appears
        logits = rng.normal(size=(2, 6, 7, classes)).astype(np.float32)
        logits[..., -1] -= 10.0  # ... and is never predicted: left out of the mean
        out.append((labels, logits))
    return out


def test_mean_iou_and_pixel_accuracy_equal_keras_over_several_updates():
    ours, ours_accuracy = MeanIoU(5), PixelAccuracy(5)
    theirs = keras.metrics.MeanIoU(5)
    theirs_accuracy = keras.metrics.Accuracy()
    for labels, logits in _batches():
        ours.update_state(labels, logits)
        ours_accuracy.update_state(labels, logits)
        theirs.update_state(labels, np.argmax(logits, -1))
        theirs_accuracy.update_state(labels, np.argmax(logits, -1))
    np.testing.assert_allclose(ours.result(), theirs.result(), rtol=1e-6)
    np.testing.assert_allclose(ours_accuracy.result(), theirs_accuracy.result(), rtol=1e-6)
    ours.reset_state()
    assert float(ours.result()) == 0.0


def test_mean_iou_from_the_definition_with_an_ignored_label():
    labels = np.array([[[0, 0, 1, 1], [2, 2, 255, 255]]])
    predictions = np.array([[[0, 1, 1, 1], [2, 0, 2, 0]]])
    metric = MeanIoU(3, ignore_class=255)
    metric.update_state(labels, predictions)  # class maps are accepted as predictions
    # class 0: TP 1, FP 1, FN 1 -> 1/3; class 1: TP 2, FP 1 -> 2/3; class 2: TP 1, FN 1 -> 1/2
    np.testing.assert_allclose(metric.result(), (1 / 3 + 2 / 3 + 1 / 2) / 3, rtol=1e-6)
    accuracy = PixelAccuracy(3, ignore_class=255)
    accuracy.update_state(labels, predictions)
    np.testing.assert_allclose(accuracy.result(), 4 / 6, rtol=1e-6)


def test_counts_sum_across_replicas(two_replicas):
    (labels, logits), *_ = _batches(1)
    single = MeanIoU(5)
    single.update_state(labels, logits)
    with two_replicas.scope():
        metric = MeanIoU(5)

    @tf.function
    def step(batch):
        two_replicas.run(lambda x, y: metric.update_state(x, y), args=batch)

    dataset = tf.data.Dataset.from_tensors((labels, logits))
    for batch in two_replicas.experimental_distribute_dataset(dataset):
        step(batch)
    np.testing.assert_allclose(metric.result(), single.result(), rtol=1e-6)


def test_bad_arguments_and_labels_are_refused():
    with pytest.raises(ValueError, match="num_classes"):
        MeanIoU(1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be in"):
        MeanIoU(3).update_state(np.array([[3]]), np.array([[0]]))
    with pytest.raises(ValueError, match="same number of pixels"):
        MeanIoU(3).update_state(np.zeros((1, 2, 2)), np.zeros((1, 3, 2, 3)))


def test_config_round_trip():
    metric = MeanIoU(4, ignore_class=255, name="miou")
    clone = MeanIoU.from_config(metric.get_config())
    assert clone.get_config() == metric.get_config()
