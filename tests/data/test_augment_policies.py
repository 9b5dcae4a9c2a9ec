"""The policy table, its validation, and the pipelines' ``augment=`` argument."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.data import classification_pipeline, segmentation_pipeline
from yeehaw_tf.data.augmentation import (
    POLICIES,
    RandomPadCrop,
    SeededRandAugment,
    get_policy,
    policy_names,
    validate_policy,
)
from yeehaw_tf.data.detection import detection_pipeline, load_detection

# A nearest-neighbour mask pixel may reach past its exact box by half a pixel (its centre is
# inside) plus half a source pixel of rounding, and Keras's boxes are up to ~0.1 px off: 1.25 px.
SLACK = 1.25 / 32
GEOMETRIC = ("none", "flip", "crop", "crop_flip", "geometric", "geometric_flip", "color")


def test_policy_names_per_kind():
    assert policy_names("classification") == (
        *GEOMETRIC,
        "randaugment",
        "erasing",
        "mixup",
        "cutmix",
    )
    assert policy_names("segmentation") == GEOMETRIC
    assert policy_names("detection") == GEOMETRIC
    with pytest.raises(ValueError, match="kind must be one of classification, segmentation"):
        policy_names("gan")


def test_an_unknown_or_misplaced_policy_is_refused_naming_augment_and_the_valid_ones():
    assert validate_policy("detection", "crop_flip") == "crop_flip"
    assert validate_policy("segmentation", None) == "none"
    with pytest.raises(
        ValueError, match=r"augment='mixup' .* for detection; valid policies: none,"
    ):
        validate_policy("detection", "mixup")
    with pytest.raises(ValueError, match=r"augment='randaugment' .* for segmentation"):
        get_policy("segmentation", POLICIES["randaugment"])


def test_pipelines_refuse_a_bad_policy_also_when_evaluating():
    pairs = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1), np.uint8), np.arange(4)))
    masks = tf.data.Dataset.from_tensor_slices(
        (np.zeros((4, 8, 8, 3), np.uint8), np.zeros((4, 8, 8), np.uint8))
    )
    for training in (True, False):
        with pytest.raises(ValueError, match="augment='spin'"):
            classification_pipeline(pairs, batch_size=2, training=training, augment="spin")
        with pytest.raises(ValueError, match="augment='erasing'"):
            segmentation_pipeline(masks, batch_size=2, training=training, augment="erasing")


def test_the_flipping_policies_say_so_and_the_digit_safe_ones_do_not_flip():
    flipping = {name for name, policy in POLICIES.items() if policy.flips}
    assert flipping == {"flip", "crop_flip", "geometric_flip"}
    layers = POLICIES["geometric"].layers(8, 8) + POLICIES["crop"].layers(8, 8)
    assert not any(isinstance(layer, keras.layers.RandomFlip) for layer in layers)
    assert [POLICIES[n].soft_labels for n in ("mixup", "cutmix", "crop")] == [True, True, False]


def test_magnitudes_scale_with_the_image():
    (digits,) = POLICIES["crop"].layers(8, 8)
    (shapes,) = POLICIES["crop"].layers(32, 32)
    assert (digits.padding, shapes.padding) == (1, 4)


def _digits_like(n=16):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 8, 8, 1)).astype(np.uint8)
    return tf.data.Dataset.from_tensor_slices((images, np.arange(n) % 10))


def test_evaluation_is_never_augmented():
    for name in policy_names("classification"):
        ds = classification_pipeline(
            _digits_like(), batch_size=16, training=False, augment=name, num_classes=10
        )
        plain = classification_pipeline(_digits_like(), batch_size=16, training=False)
        for a, b in zip(ds.as_numpy_iterator(), plain.as_numpy_iterator(), strict=True):
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("name", ["geometric", "randaugment", "erasing", "color"])
def test_augmented_pixels_stay_float_in_0_255(name):
    ds = classification_pipeline(_digits_like(), batch_size=8, training=True, augment=name)
    images, labels = next(iter(ds))
    assert images.dtype == tf.float32 and images.shape == (8, 8, 8, 1)
    assert labels.dtype == tf.int64
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0


def test_mixing_needs_num_classes_and_gives_soft_labels_in_training_only():
    with pytest.raises(ValueError, match="augment='mixup' gives soft labels.*pass num_classes"):
        classification_pipeline(_digits_like(), batch_size=8, training=True, augment="mixup")
    for name in ("mixup", "cutmix"):
        kwargs = {"batch_size": 8, "augment": name, "num_classes": 10}
        images, soft = next(iter(classification_pipeline(_digits_like(), training=True, **kwargs)))
        assert soft.shape == (8, 10) and soft.dtype == tf.float32
        np.testing.assert_allclose(tf.reduce_sum(soft, 1).numpy(), 1.0, atol=1e-6)
        assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0
        _, labels = next(iter(classification_pipeline(_digits_like(), training=False, **kwargs)))
        assert labels.dtype == tf.int64 and labels.shape == (8,)


def test_a_function_is_still_mapped_as_it_is():
    ds = classification_pipeline(
        _digits_like(), batch_size=4, training=True, augment=lambda x, y: (x * 0.0, y)
    )
    assert float(tf.reduce_max(next(iter(ds))[0])) == 0.0


def test_color_leaves_masks_and_boxes_alone(data_dir):
    data = load_detection("shapes/tiny", data_dir, masks=True)
    kwargs = {"batch_size": 8, "training": True, "seed": 2, "flip": False, "max_boxes": 5}
    plain = next(iter(detection_pipeline(data.train, **kwargs)))
    color = next(iter(detection_pipeline(data.train, augment="color", **kwargs)))
    assert not np.array_equal(plain[0].numpy(), color[0].numpy())
    for key in ("boxes", "classes", "masks"):
        np.testing.assert_array_equal(plain[1][key].numpy(), color[1][key].numpy())


def test_a_flipping_policy_mirrors_once_whatever_flip_says(data_dir):
    data = load_detection("shapes/tiny", data_dir)
    kwargs = {"batch_size": 8, "training": True, "seed": 4, "augment": "crop_flip"}
    with_flip = next(iter(detection_pipeline(data.train, flip=True, **kwargs)))
    without = next(iter(detection_pipeline(data.train, flip=False, **kwargs)))
    for a, b in zip(tf.nest.flatten(with_flip), tf.nest.flatten(without), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_real_shapes_keep_boxes_around_their_masks_under_every_policy(data_dir):
    data = load_detection("shapes/tiny", data_dir, masks=True)
    for name in policy_names("detection"):
        batches = detection_pipeline(data.train, batch_size=16, training=True, augment=name)
        _, targets = next(iter(batches))
        for boxes, classes, masks in zip(
            *(targets[k].numpy() for k in ("boxes", "classes", "masks")), strict=True
        ):
            assert not masks[classes < 0].any()
            for box, mask in zip(boxes[classes >= 0], masks[classes >= 0], strict=True):
                rows, cols = np.nonzero(mask)
                extent = np.array([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1]) / 32
                assert (extent[:2] >= box[:2] - SLACK).all(), name
                assert (extent[2:] <= box[2:] + SLACK).all(), name


def test_layers_round_trip_their_config():
    crop = RandomPadCrop(3, 16, 24, bounding_box_format="xyxy")
    again = RandomPadCrop.from_config(crop.get_config())
    assert (again.padding, again.height, again.width) == (3, 16, 24)
    assert again.compute_output_shape((2, 16, 24, 3)) == (2, 16, 24, 3)
    rand = SeededRandAugment.from_config(SeededRandAugment(num_ops=3, factor=0.2).get_config())
    assert rand.num_ops == 3 and tuple(rand.factor) == (0.0, 0.2)
    with pytest.raises(ValueError, match="padding must be a positive integer"):
        RandomPadCrop(0, 8, 8)
