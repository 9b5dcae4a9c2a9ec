"""Region proposals for a detection split (R-CNN, Fast R-CNN): selective search in worker
processes equals the search in this process, the cache is keyed by the images themselves, and
the pipeline carries the proposals with the image (mirrored with it, padding kept)."""

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.data import proposals as proposals_module
from yeehaw_tf.data.detection import detection_pipeline
from yeehaw_tf.data.proposals import search_images, split_proposals, with_proposals
from yeehaw_tf.ops.selective_search import selective_search


def _scenes(count, seed=0, size=24):
    """Images of two flat rectangles on a flat background (selective search finds them)."""
    rng = np.random.default_rng(seed)
    images = np.full((count, size, size, 3), 40, np.uint8)
    for image in images:
        for _ in range(2):
            y, x = rng.integers(0, size - 8, 2)
            h, w = rng.integers(4, 8, 2)
            image[y : y + h, x : x + w] = rng.integers(90, 255, 3)
    return images


def _dataset(images):
    boxes = np.tile([[0.1, 0.2, 0.5, 0.6]], (len(images), 1, 1)).astype(np.float32)
    classes = np.zeros((len(images), 1), np.int32)
    return tf.data.Dataset.from_tensor_slices((images, {"boxes": boxes, "classes": classes}))


def _relative_yxyx(boxes_xyxy, height, width, count):
    """The stored layout, written out: xyxy pixels -> relative yxyx, zero rows after."""
    out = np.zeros((count, 4), np.float32)
    b = np.asarray(boxes_xyxy, np.float64)[:count]
    out[: len(b)] = np.stack(
        [b[:, 1] / height, b[:, 0] / width, b[:, 3] / height, b[:, 2] / width], -1
    )
    return out


def test_worker_processes_give_selective_search_of_each_image_in_order():
    images = _scenes(40)
    count = 12
    expected = np.stack(
        [_relative_yxyx(selective_search(im, max_proposals=count), 24, 24, count) for im in images]
    )
    np.testing.assert_allclose(search_images(list(images), count, workers=1), expected, atol=1e-7)
    np.testing.assert_allclose(search_images(list(images), count, workers=2), expected, atol=1e-7)


def _search(images, cache_dir):
    return split_proposals(
        _dataset(images),
        name="toy/a",
        split="train",
        count=8,
        mode="fast",
        cache_dir=cache_dir,
        workers=1,
    )


def test_the_cache_is_reused_for_the_same_images_and_not_for_changed_ones(tmp_path, monkeypatch):
    images = _scenes(6)
    first = _search(images, str(tmp_path))
    files = list((tmp_path / "proposals").iterdir())
    assert len(files) == 1 and files[0].name.startswith("toy_a-train-fast-8-")

    def no_search(*args, **kwargs):
        raise AssertionError("searched again although the cache holds these images")

    monkeypatch.setattr(proposals_module, "search_images", no_search)
    np.testing.assert_array_equal(first, _search(images, str(tmp_path)))
    changed = images.copy()
    changed[0, 0, 0, 0] += 1
    with pytest.raises(AssertionError, match="searched again"):
        _search(changed, str(tmp_path))


def test_bad_count_is_refused_by_name():
    with pytest.raises(ValueError, match="proposal count must be a positive int"):
        split_proposals(
            _dataset(_scenes(1)), name="t", split="train", count=0, mode="fast", cache_dir=None
        )


def test_pipeline_mirrors_proposals_with_the_image_and_keeps_padding():
    images = _scenes(16, seed=1)
    proposals = np.zeros((16, 3, 4), np.float32)
    proposals[:, 0] = [0.1, 0.2, 0.4, 0.7]
    proposals[:, 1] = [0.5, 0.0, 0.9, 0.25]  # row 2 stays padding
    ds = with_proposals(_dataset(images), proposals)
    batch_images, targets = next(iter(detection_pipeline(ds, batch_size=16, training=True, seed=5)))
    got = targets["proposals"].numpy()
    flipped = 0
    for image, rows in zip(batch_images.numpy(), got, strict=True):
        index = next(
            i
            for i, o in enumerate(images)
            if np.array_equal(o, image) or np.array_equal(o[:, ::-1], image)
        )
        expected = proposals[index].copy()
        if not np.array_equal(images[index], image):  # mirrored: x -> 1 - x, swapped
            flipped += 1
            expected[:, [1, 3]] = 1.0 - proposals[index][:, [3, 1]]
        np.testing.assert_allclose(rows, expected, atol=1e-6)
        assert rows[2, 3] - rows[2, 1] == 0.0  # padding: still zero width
    assert 0 < flipped < 16
    _, plain = next(iter(detection_pipeline(ds, batch_size=16, training=False)))
    np.testing.assert_array_equal(plain["proposals"].numpy(), proposals)


def test_an_augmentation_policy_is_refused_with_proposals():
    ds = with_proposals(_dataset(_scenes(2)), np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="cannot be used with region proposals"):
        detection_pipeline(ds, batch_size=2, training=True, augment="crop")


def test_a_failing_worker_is_reported_with_its_error():
    images = list(_scenes(32))
    images[20] = np.zeros((1, 1, 3), np.uint8)  # selective search refuses it
    with pytest.raises(RuntimeError, match="worker process.*at least 2 x 2"):
        search_images(images, 4, workers=2)


def test_an_unwritable_cache_dir_leaves_the_search_uncached(tmp_path):
    blocked = tmp_path / "a_file"
    blocked.write_text("not a directory")
    boxes = _search(_scenes(3), str(blocked))
    assert boxes.shape == (3, 8, 4)
