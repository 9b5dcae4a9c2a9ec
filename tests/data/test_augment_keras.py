"""What Keras 3.15's preprocessing layers get wrong, and that our workarounds fix it.

The "Keras still ..." tests pin the upstream behaviour that ``docs/augmentation.md`` describes;
if one fails after a Keras upgrade, Keras changed: revisit the workaround and the page.
"""

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.data.augmentation import (
    POLICIES,
    RandomPadCrop,
    SeededRandAugment,
    StatelessSeedGenerator,
    apply_layers,
    mixing_augmenter,
)

SIZE = 32


def _constant_stream(layer_call, n=64):
    image = tf.reshape(tf.range(SIZE * SIZE, dtype=tf.float32), [SIZE, SIZE, 1])
    ds = tf.data.Dataset.from_tensors(image).repeat(n)
    return ds.map(layer_call, num_parallel_calls=4, deterministic=True)


def test_keras_layers_in_tf_data_are_not_reproducible_but_stateless_seeds_are():
    layer = keras.layers.RandomTranslation(0.3, 0.3, seed=1)
    stateful = _constant_stream(lambda x: layer(x, training=True))
    first, second = (np.stack(list(stateful.as_numpy_iterator())) for _ in range(2))
    assert not np.array_equal(first, second)  # the SeedGenerator variable carried on

    def stateless(index, x):
        seed = tf.stack([tf.constant(1, tf.int64), index])
        return apply_layers([layer], seed, x[None])[0][0]

    seeded = _constant_stream(lambda x: x).enumerate().map(stateless, num_parallel_calls=4)
    first, second = (np.stack(list(seeded.as_numpy_iterator())) for _ in range(2))
    np.testing.assert_array_equal(first, second)
    assert len({image.tobytes() for image in first}) > 1


def _boxes_of(layer, boxes, seed=(1, 2)):
    images = tf.zeros([1, SIZE, SIZE, 1])
    transformation = layer.get_random_transformation(
        {"images": images}, training=True, seed=StatelessSeedGenerator(tf.constant(seed))
    )
    moved = layer.transform_bounding_boxes(
        {"boxes": tf.constant(boxes[None], tf.float32), "labels": tf.constant([[1]])},
        transformation,
    )
    return moved["boxes"].numpy()[0], moved["labels"].numpy()[0], transformation


def test_keras_rotation_still_ignores_a_relative_box_format_and_xyxy_works():
    """``RandomRotation.transform_bounding_boxes`` never converts from its
    ``bounding_box_format``: relative boxes are rotated as if they were pixels. We drive it in
    ``xyxy`` (pixels), and the relative result then agrees with the pixel one."""
    factor = (0.02, 0.02)
    relative = np.array([[0.25, 0.25, 0.5, 0.75]], np.float32)  # rel_yxyx
    pixels = relative[:, [1, 0, 3, 2]] * SIZE  # xyxy
    wrong, labels, _ = _boxes_of(
        keras.layers.RandomRotation(factor, bounding_box_format="rel_yxyx"), relative
    )
    right, _, _ = _boxes_of(keras.layers.RandomRotation(factor, bounding_box_format="xyxy"), pixels)
    expected = right[:, [1, 0, 3, 2]] / SIZE
    assert np.abs(wrong - expected).max() > 0.1 or labels[0] == -1
    assert np.abs(expected - relative).max() < 0.1  # a small turn moves the box a little


def test_keras_random_crop_still_swaps_the_box_offsets_and_ours_does_not():
    pixels = np.array([[2.0, 10.0, 6.0, 20.0]], np.float32)  # x 2..6, y 10..20
    crop = keras.layers.RandomCrop(SIZE - 8, SIZE - 8, bounding_box_format="xyxy")
    boxes, _, (top, left) = _boxes_of(crop, pixels, seed=(3, 4))
    top, left = int(top), int(left)
    assert top != left
    right = np.clip(pixels - [left, top, left, top], 0, SIZE - 8)
    swapped = np.maximum(pixels - [top, left, top, left], 0)
    np.testing.assert_allclose(boxes, swapped)  # Keras: x shifted by top, y by left
    assert not np.allclose(boxes, right)
    ours = RandomPadCrop(4, SIZE, SIZE, bounding_box_format="xyxy")
    boxes, _, (top, left) = _boxes_of(ours, pixels, seed=(3, 4))
    shift = np.array([4 - int(left), 4 - int(top)] * 2)
    np.testing.assert_allclose(boxes, np.clip(pixels + shift, 0, SIZE))


def test_keras_flip_still_fails_on_batched_boxes_so_we_flip_one_example_at_a_time():
    flip = keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy")
    boxes = tf.constant(np.tile([[[1.0, 2.0, 3.0, 4.0]] * 3], [2, 1, 1]), tf.float32)
    transformation = {"flips": tf.constant([[True], [False]]), "input_shape": (2, SIZE, SIZE, 1)}
    try:
        flip.transform_bounding_boxes({"boxes": boxes, "labels": tf.zeros([2, 3])}, transformation)
        raised = False
    except tf.errors.InvalidArgumentError:
        raised = True
    assert raised  # condition [2] does not broadcast against [2, 3, 4]
    one = {"flips": tf.constant([[True]]), "input_shape": (1, SIZE, SIZE, 1)}
    out = flip.transform_bounding_boxes({"boxes": boxes[:1], "labels": tf.zeros([1, 3])}, one)
    np.testing.assert_allclose(out["boxes"].numpy()[0, 0], [SIZE - 3, 2, SIZE - 1, 4])


def _rand_augment_draws(layer, seed):
    images = tf.random.stateless_uniform([1, SIZE, SIZE, 3], [0, 0], 0, 255)
    generator = StatelessSeedGenerator(tf.constant(seed, tf.int64))
    transformation = layer.get_random_transformation(
        {"images": images}, training=True, seed=generator
    )
    return layer.transform_images(images, transformation).numpy()


def test_keras_rand_augment_still_ignores_its_seed_and_ours_honours_it():
    keras_layer = keras.layers.RandAugment(num_ops=2, factor=0.5)
    draws = [_rand_augment_draws(keras_layer, [1, 2]) for _ in range(6)]
    assert any(not np.array_equal(draws[0], d) for d in draws[1:])  # same seed, new images
    ours = SeededRandAugment(num_ops=2, factor=0.5)
    np.testing.assert_array_equal(
        _rand_augment_draws(ours, [1, 2]), _rand_augment_draws(ours, [1, 2])
    )
    others = [_rand_augment_draws(ours, [1, s]) for s in range(3, 9)]
    assert any(not np.array_equal(_rand_augment_draws(ours, [1, 2]), d) for d in others)


def _cutmix_batch(size=8, batch=16):
    # image i is constant i: where pixels came from is readable from their values
    images = tf.constant(np.arange(batch, dtype=np.float32)[:, None, None, None])
    return tf.tile(images, [1, size, size, 1]), tf.range(batch)


def test_cutmix_labels_weigh_the_pixels_actually_pasted():
    """Keras weighs CutMix labels by a continuous box's area; on 8 x 8 images the whole pixels
    pasted differ from it. Our labels give each source image its share of pixels."""
    images, labels = _cutmix_batch()
    mix = mixing_augmenter(POLICIES["cutmix"], seed=0, num_classes=16)
    worst_keras = 0.0
    for index in range(5):
        mixed, soft = mix(tf.constant(index, tf.int64), (images, labels))
        mixed, soft = mixed.numpy(), soft.numpy()
        for row in range(len(mixed)):
            shares = np.bincount(mixed[row, ..., 0].astype(int).ravel(), minlength=16) / 64
            np.testing.assert_allclose(soft[row], shares, atol=1e-6)
        layer = keras.layers.CutMix()
        generator = StatelessSeedGenerator(tf.constant([0, index], tf.int64))
        transformation = layer.get_random_transformation({"images": images}, seed=generator)
        kept = 1.0 - tf.reduce_mean(
            tf.cast(transformation["batch_masks"][..., 0], tf.float32), [1, 2]
        )
        worst_keras = max(
            worst_keras, float(tf.reduce_max(tf.abs(transformation["mix_weight"] - kept)))
        )
    assert worst_keras > 0.05  # Keras's own weights are off by more than 5% of the image


def test_mixup_labels_mix_with_the_image_weights():
    images, labels = _cutmix_batch()
    mix = mixing_augmenter(POLICIES["mixup"], seed=0, num_classes=16)
    mixed, soft = mix(tf.constant(3, tf.int64), (images, labels))
    mixed, soft = mixed.numpy()[:, 0, 0, 0], soft.numpy()
    np.testing.assert_allclose(soft.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(soft @ np.arange(16), mixed, atol=1e-3)  # sum_k w_k * k = pixel
