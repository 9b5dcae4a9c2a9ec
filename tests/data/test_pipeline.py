import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from yeehaw_tf.data import classification_pipeline, load_classification, resize_images


def _pairs(n=50, size=4):
    images = np.arange(n * size * size, dtype=np.int64).reshape(n, size, size, 1) % 256
    return tf.data.Dataset.from_tensor_slices((images.astype(np.uint8), np.arange(n)))


def _labels(ds, batches):
    return [b[1].tolist() for b in ds.take(batches).as_numpy_iterator()]


def test_training_batches_are_full_float_and_cover_each_epoch_once():
    ds = classification_pipeline(_pairs(50), batch_size=8, training=True, seed=1)
    batches = list(ds.take(6).as_numpy_iterator())  # 6 * 8 = 48 <= 50 examples
    for images, labels in batches:
        assert images.shape == (8, 4, 4, 1) and images.dtype == np.float32
        assert labels.dtype == np.int64
        assert 0 <= images.min() and images.max() <= 255
    seen = np.concatenate([labels for _, labels in batches])
    assert len(set(seen.tolist())) == 48  # no example twice within an epoch


def test_order_is_a_function_of_the_seed():
    a = _labels(classification_pipeline(_pairs(), batch_size=8, training=True, seed=3), 12)
    b = _labels(classification_pipeline(_pairs(), batch_size=8, training=True, seed=3), 12)
    c = _labels(classification_pipeline(_pairs(), batch_size=8, training=True, seed=4), 12)
    assert a == b and a != c
    # reshuffled between epochs
    assert sorted(sum(a[:6], [])) != sum(a[:6], []) or a[:6] != a[6:12]


def test_evaluation_keeps_order_and_the_last_partial_batch():
    labels = _labels(classification_pipeline(_pairs(50), batch_size=8, training=False), 100)
    assert sum(labels, []) == list(range(50))
    assert len(labels[-1]) == 2


def test_resize_keeps_pixel_units_and_is_identity_at_the_same_size():
    image = tf.fill([1, 8, 8, 3], 200.0)
    np.testing.assert_allclose(resize_images(image, (4, 4)).numpy(), 200.0, rtol=1e-6)
    x = tf.random.uniform([2, 5, 5, 1], 0, 255)
    np.testing.assert_array_equal(resize_images(x, (5, 5)).numpy(), x.numpy())
    ds = classification_pipeline(_pairs(10, 4), batch_size=5, training=False, image_size=(6, 6))
    assert next(iter(ds))[0].shape == (5, 6, 6, 1)


def test_augment_hook_is_applied_to_training_only():
    def flip(image, label):
        return 255.0 - image, label

    train = classification_pipeline(_pairs(8), batch_size=8, training=True, augment=flip, seed=0)
    images, labels = next(iter(train))
    originals = np.stack([x for x, _ in _pairs(8).as_numpy_iterator()]).astype(np.float32)
    np.testing.assert_array_equal(images.numpy(), 255.0 - originals[labels.numpy()])


def test_zero_batch_size_is_refused():
    with pytest.raises(ValueError, match="batch_size"):
        classification_pipeline(_pairs(), batch_size=0, training=True)


def test_real_datasets_load_through_the_same_code(tmp_path):
    """MNIST by name, through tfds.load, with TFDS's mock data: no download, no network."""
    with tfds.testing.mock_data(num_examples=12):
        data = load_classification("mnist", str(tmp_path))
        assert data.image_shape == (28, 28, 1) and data.num_classes == 10
        images, labels = next(
            iter(classification_pipeline(data.train, batch_size=4, training=True))
        )
    assert images.shape == (4, 28, 28, 1) and labels.shape == (4,)
