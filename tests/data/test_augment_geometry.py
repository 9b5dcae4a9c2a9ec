"""Boxes and masks under the geometric layers, against float64 NumPy references.

The reference is read off the pixels: the layers move a ramp image whose channels are the
pixel's own x, y and 1, so every output pixel holds the input coordinates it was sampled from
(bilinear sampling of a linear function is exact). A least-squares fit gives the layer's map in
float64; boxes are its forward image (enclosing box of the corners, pixel edges at integers,
centres at +0.5), clipped to the image; masks are nearest-neighbour samples of it with 0 outside.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.data.augmentation import POLICIES, Policy, RandomPadCrop, apply_layers
from yeehaw_tf.data.augmentation.augmenters import detection_augmenter

SIZE = 32
EXACT_PX = 1e-3  # float32 box maths vs the float64 reference, in pixels
BOXES = np.array([[4, 6, 20, 12], [10, 10, 30, 28], [0, 0, 5, 5], [25, 2, 32, 9]], np.float32)
ROTATION, ZOOM = 0.05, 0.17  # of Keras's ranges: 18 degrees, 17% zoom (no sampling ties)
FILL = {"fill_mode": "constant", "bounding_box_format": "xyxy"}


def _ramp(size=SIZE):
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.stack([xs, ys, np.ones_like(xs)], -1)[None]


def _run(layers, seed, boxes=BOXES, masks=None):
    images, masks, moved, valid = apply_layers(
        layers,
        tf.constant(seed, tf.int64),
        tf.constant(_ramp()),
        masks=None if masks is None else tf.constant(masks, tf.float32),
        boxes=tf.constant(boxes[None]),
    )
    out = None if masks is None else masks.numpy()[0]
    return images.numpy()[0].astype(np.float64), out, moved.numpy()[0], valid.numpy()[0]


def _fitted_map(image) -> np.ndarray:
    """3x3 float64 matrix: output pixel index (x, y, 1) -> input pixel index."""
    inside = np.abs(image[..., 2] - 1.0) < 1e-4  # sampled wholly from inside the image
    ys, xs = np.nonzero(inside)
    assert len(xs) > SIZE * SIZE // 4
    design = np.stack([xs, ys, np.ones_like(xs)], 1).astype(np.float64)
    solution, *_ = np.linalg.lstsq(design, image[ys, xs, :2], rcond=None)
    assert np.abs(design @ solution - image[ys, xs, :2]).max() < 1e-3
    matrix = np.eye(3)
    matrix[:2] = solution.T
    return matrix


def _reference_boxes(matrix, boxes, centre_offset=0.0):
    """Forward image of ``boxes`` (pixel xyxy) under the layer's map, clipped to the image.
    ``centre_offset`` shifts the continuous coordinate of pixel centres (0.5 is correct)."""
    forward = np.linalg.inv(matrix)
    out = []
    for x1, y1, x2, y2 in boxes.astype(np.float64):
        corners = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]) - (0.5 - centre_offset)
        moved = (forward @ np.c_[corners, np.ones(4)].T).T[:, :2] + (0.5 - centre_offset)
        out.append([*moved.min(0), *moved.max(0)])
    return np.clip(np.array(out), 0.0, SIZE)


def _area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _rotation():
    return [keras.layers.RandomRotation((ROTATION, ROTATION), **FILL)]


def _zoom_in():
    return [keras.layers.RandomZoom((-ZOOM, -ZOOM), **FILL)]


def _zoom_out():
    return [keras.layers.RandomZoom((ZOOM, ZOOM), **FILL)]


def _translation():
    return [keras.layers.RandomTranslation(0.3, 0.3, **FILL)]


def _flip():
    return [keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy")]


def _pad_crop():
    return [RandomPadCrop(4, SIZE, SIZE, bounding_box_format="xyxy")]


def _half_pixel_bound(matrix):
    """How far Keras's boxes may be from the pixels: it rotates and zooms boxes about pixel
    index (W-1)/2 taken as a coordinate, half a pixel from the image's centre W/2, which moves
    every point by ``(A - I) (0.5, 0.5)`` (``A`` the linear part of the map)."""
    linear = np.linalg.inv(matrix)[:2, :2]
    return np.abs((linear - np.eye(2)) @ np.array([0.5, 0.5])).max() + EXACT_PX


@pytest.mark.parametrize(
    "layers, exact",
    [
        (_translation, True),
        (_flip, True),
        (_pad_crop, True),
        (_rotation, False),
        (_zoom_in, False),
        (_zoom_out, False),
    ],
    ids=["translation", "flip", "pad_crop", "rotation", "zoom_in", "zoom_out"],
)
@pytest.mark.parametrize("seed", [[1, 2], [3, 4], [5, 6], [7, 8]])
def test_boxes_follow_the_pixels(layers, exact, seed):
    image, _, boxes, valid = _run(layers(), seed)
    matrix = _fitted_map(image)
    reference = _reference_boxes(matrix, BOXES)
    tolerance = EXACT_PX if exact else _half_pixel_bound(matrix)
    kept = _area(reference) > 0
    np.testing.assert_array_equal(valid, kept)
    np.testing.assert_allclose(boxes[kept], reference[kept], atol=tolerance)


@pytest.mark.parametrize("layers", [_rotation, _zoom_in, _zoom_out])
def test_keras_turns_and_zooms_boxes_about_a_centre_half_a_pixel_off(layers):
    """The cause of the sub-pixel tolerance above, checked exactly: Keras's box maths matches
    the pixels' map applied with pixel centres at integer coordinates instead of +0.5."""
    image, _, boxes, valid = _run(layers(), [1, 2])
    reference = _reference_boxes(_fitted_map(image), BOXES, centre_offset=0.5)
    np.testing.assert_allclose(boxes[valid], reference[valid], atol=EXACT_PX)
    error = np.abs(boxes[valid] - _reference_boxes(_fitted_map(image), BOXES)[valid])
    assert error.max() < 0.25  # 18 degrees, 17% zoom: under a quarter of a pixel


def test_flips_happen_for_some_seeds_and_not_others():
    mirrored = [_fitted_map(_run(_flip(), [s, 0])[0])[0, 0] < 0 for s in range(12)]
    assert 0 < sum(mirrored) < 12


def _nearest_reference(matrix, mask):
    """``mask`` resampled by nearest neighbour (ties away from zero, as TF), 0 outside; and a
    flag per pixel for samples within 1e-3 of a tie, where float32 may round either way."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    source = np.einsum("ij,jyx->iyx", matrix, np.stack([xs, ys, np.ones_like(xs)]).astype(float))
    nearest = np.floor(source[:2] + 0.5).astype(int)
    inside = ((nearest >= 0) & (nearest < SIZE)).all(0)
    values = np.where(inside, mask[nearest[1].clip(0, SIZE - 1), nearest[0].clip(0, SIZE - 1)], 0)
    tie = (np.abs(np.abs(source[:2] - np.floor(source[:2])) - 0.5) < 1e-3).any(0)
    return values, tie


@pytest.mark.parametrize("layers", [_translation, _flip, _pad_crop, _rotation, _zoom_in, _zoom_out])
def test_masks_follow_the_image_by_nearest_neighbour_with_background_outside(layers):
    classes = np.random.default_rng(0).integers(1, 4, size=(SIZE, SIZE))
    image, masks, _, _ = _run(layers(), [9, 10], masks=classes[None, ..., None])
    reference, tie = _nearest_reference(_fitted_map(image), classes)
    got = masks[..., 0]
    assert set(np.unique(got)) <= {0, 1, 2, 3}  # never interpolated
    np.testing.assert_array_equal(got[~tie], reference[~tie])
    assert tie.mean() < 0.05


def _policy(*layers):
    return Policy("test", "layers under test", ("detection",), lambda h, w: list(layers))


def _detect(policy, boxes, classes, masks=None, seed=0):
    target = {"boxes": tf.constant(boxes, tf.float32), "classes": tf.constant(classes, tf.int32)}
    if masks is not None:
        target["masks"] = tf.constant(masks, tf.uint8)
    augment = detection_augmenter(policy, (SIZE, SIZE, 3), seed=seed, max_boxes=10)
    image, out = augment(tf.constant(0, tf.int64), (tf.zeros([SIZE, SIZE, 3]), target))
    return image, {k: v.numpy() for k, v in out.items()}


def _box_mask(box):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    y1, x1, y2, x2 = (np.array(box) * SIZE).round().astype(int)
    mask[y1:y2, x1:x2] = 1
    return mask


def test_boxes_leaving_the_image_are_dropped_with_their_classes_and_masks():
    """Shifted down by half the image: the box in the bottom half leaves, the one across the
    middle is clipped, the one at the top moves down; classes and masks stay in step."""
    shift = _policy(keras.layers.RandomTranslation((0.5, 0.5), (0.0, 0.0), **FILL))
    boxes = [[0.0, 0.0, 0.25, 0.5], [0.25, 0.25, 0.75, 0.75], [0.625, 0.5, 0.875, 1.0]]
    masks = np.stack([_box_mask(b) for b in boxes])
    _, out = _detect(shift, boxes, [7, 8, 9], masks)
    np.testing.assert_allclose(out["boxes"], [[0.5, 0.0, 0.75, 0.5], [0.75, 0.25, 1.0, 0.75]])
    np.testing.assert_array_equal(out["classes"], [7, 8])
    np.testing.assert_array_equal(out["masks"][0], _box_mask([0.5, 0.0, 0.75, 0.5]))
    np.testing.assert_array_equal(out["masks"][1], _box_mask([0.75, 0.25, 1.0, 0.75]))


def test_a_box_clipped_to_nothing_stays_dropped_after_a_rotation():
    """A box pushed wholly off the left edge is clipped to a segment of zero width; rotating
    that segment would give it an area again: Keras's label -1 from the first layer keeps it
    dropped."""
    shift_then_turn = _policy(
        keras.layers.RandomTranslation((0.0, 0.0), (-0.5, -0.5), **FILL),
        keras.layers.RandomRotation((0.05, 0.05), **FILL),
    )
    _, out = _detect(shift_then_turn, [[0.3, 0.1, 0.7, 0.4], [0.3, 0.6, 0.7, 0.9]], [1, 2])
    np.testing.assert_array_equal(out["classes"], [2])
    assert out["boxes"].shape == (1, 4)


def test_an_object_whose_mask_left_the_image_is_dropped_even_if_its_box_did_not():
    boxes = [[0.25, 0.25, 0.5, 0.5], [0.5, 0.5, 0.75, 0.75]]
    masks = np.stack([_box_mask(boxes[0]), np.zeros((SIZE, SIZE), np.uint8)])
    _, out = _detect(_policy(*_flip()), boxes, [3, 4], masks)
    np.testing.assert_array_equal(out["classes"], [3])


def test_policies_keep_boxes_around_their_masks():
    """Every geometric policy on objects whose box is their mask's extent: afterwards each box
    still holds its mask (rotation makes boxes loose, never tight)."""
    rng = np.random.default_rng(1)
    corners = np.sort(rng.integers(2, SIZE - 2, size=(6, 2, 2)), axis=1)
    corners[:, 1] += 3
    boxes = np.concatenate([corners[:, 0], corners[:, 1]], 1) / SIZE  # y1, x1, y2, x2
    masks = np.stack([_box_mask(b) for b in boxes])
    for name in ("crop_flip", "geometric_flip"):
        for seed in range(4):
            _, out = _detect(POLICIES[name], boxes, np.arange(6), masks, seed=seed)
            for box, mask in zip(out["boxes"], out["masks"], strict=True):
                rows, cols = np.nonzero(mask)
                extent = np.array([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1]) / SIZE
                slack = (
                    1.25 / SIZE
                )  # nearest-neighbour masks vs exact boxes (see the policies test)
                assert (extent[:2] >= box[:2] - slack).all() and (
                    extent[2:] <= box[2:] + slack
                ).all()
