import math

import numpy as np
import pytest
import tensorflow_datasets as tfds

from yeehaw_tf.data.shapes import Shapes
from yeehaw_tf.data.shapes_scenes import CLASS_NAMES, mask_to_box, render_scene


def _box_from_mask_loop(mask):
    """Slow reference: scan every pixel for the extent of the mask."""
    h, w = mask.shape
    ymin, xmin, ymax, xmax = h, w, -1, -1
    for y in range(h):
        for x in range(w):
            if mask[y, x]:
                ymin, xmin = min(ymin, y), min(xmin, x)
                ymax, xmax = max(ymax, y), max(xmax, x)
    return np.array([ymin / h, xmin / w, (ymax + 1) / h, (xmax + 1) / w])


@pytest.mark.parametrize("index", range(12))
def test_scene_labels_are_exact(index):
    scene = render_scene(np.random.default_rng([7, 0, index]), image_size=32, max_objects=4)
    k = len(scene.labels)
    assert 1 <= k <= 4
    assert scene.image.shape == (32, 32, 3) and scene.image.dtype == np.uint8
    assert scene.masks.shape == (k, 32, 32) and set(np.unique(scene.masks)) <= {0, 1}
    # boxes are the tight extent of the masks
    for box, mask in zip(scene.boxes, scene.masks, strict=True):
        np.testing.assert_allclose(box, _box_from_mask_loop(mask), atol=1e-7)
    # objects do not overlap, and the semantic mask is the union of instances with class + 1
    assert scene.masks.sum(axis=0).max() == 1
    expected = np.zeros((32, 32), np.uint8)
    for mask, label in zip(scene.masks, scene.labels, strict=True):
        expected[mask == 1] = label + 1
    np.testing.assert_array_equal(scene.semantic_mask, expected)
    # the image-level label is the largest object's class
    areas = scene.masks.reshape(k, -1).sum(1)
    np.testing.assert_array_equal(scene.areas, areas)
    assert scene.label == scene.labels[np.argmax(areas)]


def test_objects_are_visible_against_the_background():
    scene = render_scene(np.random.default_rng(3), image_size=64, max_objects=4, noise_std=0.0)
    background = scene.image[scene.semantic_mask == 0].astype(int)
    for mask in scene.masks:
        inside = scene.image[mask == 1].astype(int)
        assert np.abs(inside.mean(0) - background.mean(0)).sum() > 100


def test_shapes_have_their_geometric_areas():
    from yeehaw_tf.data.shapes_scenes import _shape_mask

    size = 40
    circle, square, triangle = (_shape_mask(k, size, 10, 12, 64) for k in range(3))
    assert abs(circle.sum() - math.pi * (size / 2) ** 2) / (math.pi * 400) < 0.03
    assert square.sum() == size * size
    assert abs(triangle.sum() - size * size / 2) / (size * size / 2) < 0.05
    np.testing.assert_allclose(mask_to_box(square), [10 / 64, 12 / 64, 50 / 64, 52 / 64])


def test_scenes_are_deterministic_per_seed():
    a = render_scene(np.random.default_rng([0, 0, 5]))
    b = render_scene(np.random.default_rng([0, 0, 5]))
    c = render_scene(np.random.default_rng([0, 1, 5]))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.image, c.image)


def test_every_class_appears():
    labels = np.concatenate(
        [render_scene(np.random.default_rng(i), 32, 3).labels for i in range(40)]
    )
    assert set(labels) == set(range(len(CLASS_NAMES)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 4}, "image_size"),
        ({"max_objects": 0}, "max_objects"),
        ({"min_size": 20, "max_size": 10}, "min_size"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        render_scene(np.random.default_rng(0), **kwargs)


def test_mask_to_box_refuses_empty_masks():
    with pytest.raises(ValueError, match="at least one pixel"):
        mask_to_box(np.zeros((4, 4)))


def _examples(data_dir):
    builder = tfds.builder("shapes/tiny", data_dir=data_dir)
    builder.download_and_prepare()
    return builder, list(tfds.as_numpy(builder.as_dataset(split="train")))


def test_tfds_builder_features_and_sizes(data_dir):
    builder, examples = _examples(data_dir)
    assert isinstance(builder, Shapes)
    assert builder.info.splits["train"].num_examples == 64
    assert builder.info.splits["test"].num_examples == 16
    for ex in examples:
        k = len(ex["objects"]["label"])
        assert ex["image"].shape == (32, 32, 3)
        assert ex["segmentation_mask"].shape == (32, 32, 1)
        assert ex["objects"]["mask"].shape == (k, 32, 32, 1)
        for box, mask in zip(ex["objects"]["bbox"], ex["objects"]["mask"][..., 0], strict=True):
            np.testing.assert_allclose(box, _box_from_mask_loop(mask), atol=1e-6)
        np.testing.assert_array_equal(ex["objects"]["area"], ex["objects"]["mask"].sum((1, 2, 3)))
        assert ex["label"] == ex["objects"]["label"][np.argmax(ex["objects"]["area"])]


def test_tfds_builder_is_deterministic_across_prepares(data_dir, tmp_path):
    _, first = _examples(data_dir)
    _, second = _examples(str(tmp_path))
    key = lambda ex: ex["image"].tobytes()  # noqa: E731
    for a, b in zip(sorted(first, key=key), sorted(second, key=key), strict=True):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["objects"]["bbox"], b["objects"]["bbox"])


def test_occluded_scenes_annotate_the_visible_part_of_each_object():
    overlapping = 0
    for i in range(30):
        scene = render_scene(
            np.random.default_rng([0, 0, i]), 128, 12, min_size=4, max_size=100, occlusion=True
        )
        assert 1 <= len(scene.labels) <= 12
        visible = scene.masks.astype(bool)
        # every pixel belongs to at most one object, and each box is its visible mask's extent
        assert visible.sum(axis=0).max() <= 1
        for mask, box in zip(scene.masks, scene.boxes, strict=True):
            np.testing.assert_allclose(mask_to_box(mask), box)
        semantic = np.zeros((128, 128), np.uint8)
        for mask, label in zip(visible, scene.labels, strict=True):
            semantic[mask] = label + 1
        np.testing.assert_array_equal(semantic[semantic > 0], scene.semantic_mask[semantic > 0])
        b = scene.boxes
        for j in range(len(b)):
            for k in range(j):
                low, high = np.maximum(b[j, :2], b[k, :2]), np.minimum(b[j, 2:], b[k, 2:])
                overlapping += bool(np.all(high > low))
    assert overlapping > 0  # crowded: boxes do overlap


def test_occluded_scenes_leave_no_unlabelled_object_pixels():
    for i in range(10):
        scene = render_scene(
            np.random.default_rng([1, 0, i]), 64, 12, noise_std=0.0, occlusion=True, min_size=8
        )
        background = scene.image[scene.semantic_mask == 0]
        # without noise the background is one colour: nothing else is left unlabelled
        assert len(np.unique(background.reshape(-1, 3), axis=0)) == 1
