"""The detection pipeline: padding, bad boxes, mirroring, and real datasets by name (mock)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from yeehaw_tf.data.detection import clean_boxes, detection_pipeline, load_detection


def _examples(boxes_per_image):
    images = np.arange(len(boxes_per_image) * 8 * 8 * 3, dtype=np.float32).reshape(-1, 8, 8, 3)
    images = (images % 251).astype(np.uint8)

    def gen():
        for image, boxes in zip(images, boxes_per_image, strict=True):
            boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
            yield image, {"boxes": boxes, "classes": np.arange(len(boxes), dtype=np.int32)}

    spec = (
        tf.TensorSpec([8, 8, 3], tf.uint8),
        {"boxes": tf.TensorSpec([None, 4], tf.float32), "classes": tf.TensorSpec([None], tf.int32)},
    )
    return tf.data.Dataset.from_generator(gen, output_signature=spec), images


def test_boxes_are_padded_with_class_minus_one_and_images_without_objects_pass():
    ds, _ = _examples([[[0.1, 0.1, 0.5, 0.5]], [], [[0, 0, 1, 1], [0.2, 0.3, 0.4, 0.9]]])
    images, targets = next(iter(detection_pipeline(ds, batch_size=3, training=False, max_boxes=4)))
    assert images.shape == (3, 8, 8, 3) and targets["boxes"].shape == (3, 4, 4)
    np.testing.assert_array_equal(
        targets["classes"].numpy(), [[0, -1, -1, -1], [-1, -1, -1, -1], [0, 1, -1, -1]]
    )
    np.testing.assert_array_equal(targets["boxes"].numpy()[1], 0.0)


def test_out_of_range_boxes_are_clipped_and_empty_or_inverted_ones_dropped():
    boxes = tf.constant([[-0.2, 0.1, 0.5, 1.3], [0.5, 0.5, 0.4, 0.9], [0.3, 0.3, 0.3, 0.6]])
    kept, classes = clean_boxes(boxes, tf.constant([4, 5, 6]))
    np.testing.assert_allclose(kept.numpy(), [[0.0, 0.1, 0.5, 1.0]])
    np.testing.assert_array_equal(classes.numpy(), [4])


def test_more_objects_than_max_boxes_keeps_the_first():
    kept, classes = clean_boxes(tf.tile([[0.1, 0.1, 0.2, 0.2]], [5, 1]), tf.range(5), max_boxes=3)
    assert kept.shape == (3, 4)
    np.testing.assert_array_equal(classes.numpy(), [0, 1, 2])


def test_training_mirrors_images_together_with_their_boxes_deterministically():
    ds, originals = _examples([[[0.1, 0.2, 0.5, 0.3]]] * 16)
    batches = detection_pipeline(ds, batch_size=16, training=True, max_boxes=2, seed=3)
    images, targets = next(iter(batches))
    again, _ = next(iter(detection_pipeline(ds, batch_size=16, training=True, max_boxes=2, seed=3)))
    np.testing.assert_array_equal(images.numpy(), again.numpy())
    flipped = 0
    for image, boxes in zip(images.numpy(), targets["boxes"].numpy(), strict=True):
        index = next(
            i
            for i, o in enumerate(originals)
            if np.array_equal(o, image) or np.array_equal(o[:, ::-1], image)
        )
        mirrored = not np.array_equal(originals[index], image)
        expected = [0.1, 0.7, 0.5, 0.8] if mirrored else [0.1, 0.2, 0.5, 0.3]
        np.testing.assert_allclose(boxes[0], expected, atol=1e-6)
        flipped += mirrored
    assert 0 < flipped < 16


@pytest.mark.parametrize("name", ["voc/2007", "coco/2017"])
def test_real_detection_datasets_load_by_name_through_the_same_code(tmp_path, name):
    with tfds.testing.mock_data(num_examples=4):
        data = load_detection(name, str(tmp_path))
        images, targets = next(
            iter(detection_pipeline(data.train, batch_size=2, training=True, image_size=(32, 32)))
        )
    assert images.shape == (2, 32, 32, 3) and targets["boxes"].shape == (2, 100, 4)
    assert len(data.class_names) in (20, 80)


def test_a_dataset_without_boxes_is_refused(data_dir):
    with pytest.raises(ValueError, match="not a detection dataset"):
        load_detection("digits", data_dir)


def test_instance_masks_load_and_are_kept_padded_mirrored_and_resized_with_their_boxes(data_dir):
    data = load_detection("shapes/tiny", data_dir, masks=True)
    image, target = next(iter(data.train))
    masks = target["masks"].numpy()
    assert masks.dtype == np.uint8 and masks.shape == (len(target["boxes"]), *image.shape[:2])
    h, w = image.shape[:2]
    for mask, (y1, x1, y2, x2) in zip(masks, target["boxes"].numpy(), strict=True):
        rows, cols = np.nonzero(mask)  # each box is its mask's tight extent
        np.testing.assert_allclose(
            [rows.min() / h, cols.min() / w, (rows.max() + 1) / h, (cols.max() + 1) / w],
            [y1, x1, y2, x2],
            atol=1e-6,
        )
    batches = detection_pipeline(data.train, batch_size=8, training=True, max_boxes=5, seed=1)
    images, targets = next(iter(batches))
    assert targets["masks"].shape == (8, 5, h, w)
    for boxes, classes, masks in zip(
        targets["boxes"].numpy(), targets["classes"].numpy(), targets["masks"].numpy(), strict=True
    ):
        assert not masks[classes < 0].any()  # padding has empty masks
        for mask, (_, x1, _, x2) in zip(masks[classes >= 0], boxes[classes >= 0], strict=True):
            cols = np.nonzero(mask.any(axis=0))[0]  # mirrored or not, mask and box agree
            np.testing.assert_allclose([cols.min() / w, (cols.max() + 1) / w], [x1, x2], atol=1e-6)
    resized = detection_pipeline(data.test, batch_size=2, training=False, image_size=(16, 24))
    _, targets = next(iter(resized))
    assert targets["masks"].shape[2:] == (16, 24)


def test_masks_from_a_dataset_without_them_are_refused(tmp_path):
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(ValueError, match="no instance masks"):
            load_detection("voc/2007", str(tmp_path), masks=True)
