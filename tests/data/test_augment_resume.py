"""Every policy's training stream is a pure function of the seed and the position in it:
(a) the same seed gives the same stream, (b) ``pipeline.skip(n)`` -- how a resumed run catches
up -- gives batches ``n..`` of the full stream, (c) another seed gives another stream."""

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.data import classification_pipeline, segmentation_pipeline
from yeehaw_tf.data.augmentation import policy_names
from yeehaw_tf.data.detection import detection_pipeline

SIZE, EXAMPLES, BATCH, BATCHES, SKIP = 16, 12, 4, 5, 3  # 5 batches of 4 > one epoch of 12


def _images(rng, channels=3):
    return rng.integers(0, 256, size=(EXAMPLES, SIZE, SIZE, channels)).astype(np.uint8)


def _classification(**kwargs):
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices((_images(rng), np.arange(EXAMPLES) % 3))
    return classification_pipeline(data, num_classes=3, **kwargs)


def _segmentation(**kwargs):
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 4, size=(EXAMPLES, SIZE, SIZE)).astype(np.uint8)
    return segmentation_pipeline(
        tf.data.Dataset.from_tensor_slices((_images(rng), masks)), **kwargs
    )


def _detection(**kwargs):
    rng = np.random.default_rng(0)
    images = _images(rng)

    def examples():
        for i, image in enumerate(images):
            k = 1 + i % 3
            corner = rng.uniform(0.0, 0.5, size=(k, 2))
            boxes = np.concatenate([corner, corner + rng.uniform(0.2, 0.5, (k, 2))], 1)
            masks = np.zeros((k, SIZE, SIZE), np.uint8)
            for m, (y1, x1, y2, x2) in zip(
                masks, (boxes.clip(0, 1) * SIZE).astype(int), strict=True
            ):
                m[y1 : y2 + 1, x1 : x2 + 1] = 1
            target = {"boxes": boxes.astype(np.float32), "classes": np.arange(k, dtype=np.int32)}
            yield image, {**target, "masks": masks}

    spec = (
        tf.TensorSpec([SIZE, SIZE, 3], tf.uint8),
        {
            "boxes": tf.TensorSpec([None, 4], tf.float32),
            "classes": tf.TensorSpec([None], tf.int32),
            "masks": tf.TensorSpec([None, SIZE, SIZE], tf.uint8),
        },
    )
    data = tf.data.Dataset.from_generator(examples, output_signature=spec)
    return detection_pipeline(data, max_boxes=4, **kwargs)


PIPELINES = {
    "classification": _classification,
    "segmentation": _segmentation,
    "detection": _detection,
}
CASES = [(kind, name) for kind in PIPELINES for name in policy_names(kind) if name != "none"]


def _stream(pipeline, count, **kwargs):
    return [tf.nest.flatten(batch) for batch in pipeline.take(count).as_numpy_iterator()]


def _equal(a, b):
    return len(a) == len(b) and all(
        all(np.array_equal(x, y) for x, y in zip(p, q, strict=True))
        for p, q in zip(a, b, strict=False)
    )


@pytest.mark.parametrize("kind, name", CASES, ids=[f"{k}-{n}" for k, n in CASES])
def test_the_stream_is_a_function_of_seed_and_position(kind, name):
    build = PIPELINES[kind]
    # shuffle_buffer=1 keeps the order fixed, so (c) is about augmentation, not the shuffle
    settings = {"batch_size": BATCH, "training": True, "augment": name, "shuffle_buffer": 1}
    pipeline = build(seed=7, **settings)
    full = _stream(pipeline, BATCHES)
    assert _equal(full, _stream(pipeline, BATCHES))  # (a), a second pass over the same pipeline
    # (b) and (a) again: a resumed run builds its pipeline afresh and skips what it consumed
    assert _equal(full[SKIP:], _stream(build(seed=7, **settings).skip(SKIP), BATCHES - SKIP))
    assert not _equal(full, _stream(build(seed=8, **settings), BATCHES))  # (c)
    unaugmented = _stream(build(seed=7, **{**settings, "augment": None}), BATCHES)
    assert not _equal(full, unaugmented)  # the policy did something


def test_skipping_matches_with_a_real_shuffle_too():
    settings = {"batch_size": BATCH, "training": True, "augment": "geometric_flip", "seed": 3}
    full = _stream(_classification(**settings), 8)
    np.testing.assert_array_equal(full[5][0], _stream(_classification(**settings).skip(5), 1)[0][0])
