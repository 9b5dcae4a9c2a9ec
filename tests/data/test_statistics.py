import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.data import channel_mean_std


def test_matches_numpy_float64_over_images_of_different_sizes():
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 256, size=(h, w, 3)).astype(np.uint8) for h, w in [(5, 7), (8, 8), (3, 2)]
    ]
    ds = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=tf.TensorSpec([None, None, 3], tf.uint8)
    )
    mean, std = channel_mean_std(ds, batch_size=2)
    pixels = np.concatenate([im.reshape(-1, 3) for im in images]).astype(np.float64)
    np.testing.assert_allclose(mean, pixels.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, pixels.std(0), rtol=1e-12)


def test_empty_dataset_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        channel_mean_std(tf.data.Dataset.from_tensor_slices(tf.zeros([0, 2, 2, 1])))
