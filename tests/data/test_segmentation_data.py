import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from yeehaw_tf.data import load_segmentation, segmentation_pipeline
from yeehaw_tf.data.shapes_scenes import CLASS_NAMES


def test_shapes_masks_are_class_maps_with_background(data_dir):
    data = load_segmentation("shapes/tiny", data_dir)
    assert data.class_names == ("background", *CLASS_NAMES) and data.num_classes == 4
    assert (data.num_train, data.num_test) == (64, 16)
    raw = tfds.load("shapes/tiny", split="test", data_dir=data_dir)
    for (_, mask), example in zip(data.test.take(4), raw.take(4), strict=True):
        assert mask.dtype == tf.int64 and mask.shape == (32, 32)
        np.testing.assert_array_equal(mask, example["segmentation_mask"][..., 0])
        # every object's instance mask carries its class + 1 in the semantic mask
        for label, instance in zip(
            example["objects"]["label"], example["objects"]["mask"], strict=True
        ):
            assert set(np.unique(mask.numpy()[instance.numpy()[..., 0] == 1])) == {int(label) + 1}


def test_pipeline_resizes_masks_by_nearest_neighbour(data_dir):
    data = load_segmentation("shapes/tiny", data_dir)
    images, masks = next(
        iter(segmentation_pipeline(data.test, batch_size=4, training=False, image_size=(16, 16)))
    )
    assert images.shape == (4, 16, 16, 3) and masks.shape == (4, 16, 16)
    assert masks.dtype == tf.int64
    original = np.stack([m for _, m in data.test.take(4).as_numpy_iterator()])
    assert set(np.unique(masks)) <= set(np.unique(original))  # no interpolated class values
    np.testing.assert_array_equal(masks, original[:, 1::2, 1::2])  # nearest, half-pixel centres


def test_a_dataset_without_masks_is_refused_by_name(data_dir):
    with pytest.raises(ValueError, match="no segmentation masks; valid names: oxford_iiit_pet"):
        load_segmentation("digits", data_dir)


def test_real_segmentation_datasets_load_through_the_same_code(tmp_path):
    """Oxford-IIIT Pet by name with TFDS's mock data (no download): trimaps 1..3 -> 0..2."""
    with tfds.testing.mock_data(num_examples=4):
        data = load_segmentation("oxford_iiit_pet", str(tmp_path))
        _, mask = next(iter(data.train))
    assert data.num_classes == 3 and mask.dtype == tf.int64
