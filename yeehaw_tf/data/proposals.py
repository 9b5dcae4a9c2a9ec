"""Region proposals for a detection split, for the families that take them as a second input
(R-CNN, Fast R-CNN): selective search (:mod:`yeehaw_tf.ops.selective_search`) on every image,
in the split's order, computed once and cached.

Selective search is NumPy (about 0.08 s per 64 x 64 image and core in ``fast`` mode: 32 s
for the 800 test scenes of ``shapes/64x64`` on 2 cores), so a split is searched by worker
processes (one per CPU core) and the result is stored under
``DATA_DIR/proposals/`` with a name holding the dataset, split, mode, count and a digest of the
images themselves: a changed dataset is searched again, never matched to stale boxes. The file
is written atomically; an interrupted search leaves nothing behind.

Proposals are stored as the boxes are in the detection pipeline: relative ``[ymin, xmin, ymax,
xmax]`` in ``count`` slots per image, best ranked first, zero rows as padding (a zero-area box:
:func:`~yeehaw_tf.models.detection.proposal_inputs.proposal_valid`), so they follow the image
through resizing and mirroring like the ground truth does.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import logging

from yeehaw_tf.atomic import atomic_file


def search_chunk(images: list, count: int, mode: str) -> np.ndarray:
    """In this process: ``float32 [n, count, 4]`` relative yxyx proposals of ``images``."""
    from yeehaw_tf.ops.selective_search import selective_search

    out = np.zeros((len(images), count, 4), np.float32)
    for i, image in enumerate(images):
        height, width = image.shape[:2]
        boxes = selective_search(image, mode=mode, max_proposals=count, seed=0)
        x0, y0, x1, y1 = boxes.T
        out[i, : len(boxes)] = np.stack([y0 / height, x0 / width, y1 / height, x1 / width], -1)
    return out


def _images(dataset: tf.data.Dataset) -> tuple[list, str]:
    """The split's uint8 images in order and a digest of their shapes and bytes."""
    digest, images = hashlib.sha256(), []
    for image, _ in dataset.as_numpy_iterator():
        image = np.ascontiguousarray(image, np.uint8)
        digest.update(np.asarray(image.shape, np.int64).tobytes())
        digest.update(image.tobytes())
        images.append(image)
    return images, digest.hexdigest()[:16]


def search_images(images: list, count: int, mode: str = "fast", workers: int | None = None):
    """``float32 [N, count, 4]`` relative yxyx selective-search proposals of ``images``
    (uint8 ``[H, W, 3]`` each), on ``workers`` child processes (default: one per CPU core),
    each searching a contiguous share; ``workers=1`` searches in this process. Child processes
    (``python -m yeehaw_tf.data.proposals_worker``), not a fork of this one (which runs
    TensorFlow's threads) nor ``multiprocessing``'s spawn (which re-imports the caller's
    ``__main__``)."""
    workers = min(workers or os.cpu_count() or 1, max(1, len(images) // 16))
    if workers == 1:
        return search_chunk(images, count, mode)
    bounds = np.linspace(0, len(images), workers + 1).astype(int)
    with tempfile.TemporaryDirectory(prefix="proposals-") as scratch:
        children = []
        for w in range(workers):
            directory = os.path.join(scratch, str(w))
            os.makedirs(directory)
            share = images[bounds[w] : bounds[w + 1]]
            np.savez(
                os.path.join(directory, "images.npz"),
                **{f"image_{i}": image for i, image in enumerate(share)},
            )
            command = [
                sys.executable,
                "-m",
                "yeehaw_tf.data.proposals_worker",
                directory,
                str(count),
                mode,
            ]
            children.append((directory, subprocess.Popen(command, stdout=subprocess.DEVNULL)))
        try:
            parts = [_result(directory, child) for directory, child in children]
        finally:  # a failed or interrupted search leaves no worker running
            for _, child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
    return np.concatenate(parts)


def _result(directory: str, child: subprocess.Popen) -> np.ndarray:
    code = child.wait()
    if code != 0:
        error = os.path.join(directory, "error.txt")
        detail = f"exit status {code}"
        if os.path.exists(error):
            with open(error) as f:
                detail = f.read()
        raise RuntimeError(f"selective search failed in a worker process: {detail}")
    return np.load(os.path.join(directory, "proposals.npy"))


def split_proposals(
    dataset: tf.data.Dataset,
    *,
    name: str,
    split: str,
    count: int,
    mode: str,
    cache_dir: str | None,
    workers: int | None = None,
) -> np.ndarray:
    """``float32 [N, count, 4]``: the proposals of every example of ``dataset`` (``(image,
    target)`` pairs, in order), from ``cache_dir`` when a search of these very images is
    there, otherwise searched (and stored there unless ``cache_dir`` is ``None``)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"proposal count must be a positive int, got {count!r}")
    images, digest = _images(dataset)
    path = None
    if cache_dir is not None:
        stem = f"{name.replace('/', '_')}-{split}-{mode}-{count}-{digest}.npy"
        path = os.path.join(cache_dir, "proposals", stem)
        if os.path.isfile(path):
            boxes = np.load(path)
            if boxes.shape == (len(images), count, 4):
                return boxes
            logging.warning("ignoring %s: shape %s, expected %s", path, boxes.shape, len(images))
    began = time.perf_counter()
    logging.info(
        "selective search (%s, %d proposals) on %d %s images of %s ...",
        mode,
        count,
        len(images),
        split,
        name,
    )
    boxes = search_images(images, count, mode, workers)
    logging.info("selective search on %s/%s took %.0f s", name, split, time.perf_counter() - began)
    if path is not None:
        try:
            with atomic_file(path, ".npy") as tmp:
                np.save(tmp, boxes)
        except OSError as error:  # a read-only data dir: the run goes on, uncached
            logging.warning("could not cache the proposals at %s (%s)", path, error)
    return boxes


def with_proposals(dataset: tf.data.Dataset, proposals: np.ndarray) -> tf.data.Dataset:
    """``dataset``'s ``(image, target)`` pairs with ``target["proposals"]`` added (one row of
    ``proposals`` per example, in order)."""
    rows = tf.data.Dataset.from_tensor_slices(tf.constant(proposals, tf.float32))

    def attach(example, boxes):
        image, target = example
        return image, {**target, "proposals": boxes}

    return tf.data.Dataset.zip((dataset, rows)).map(attach)
