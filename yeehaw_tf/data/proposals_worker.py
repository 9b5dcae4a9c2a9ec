"""A worker process of :func:`yeehaw_tf.data.proposals.search_images`: ``python -m
yeehaw_tf.data.proposals_worker DIR COUNT MODE`` reads ``DIR/images.npz`` (``image_<i>``
arrays), runs selective search on each and writes ``DIR/proposals.npy`` (or ``DIR/error.txt``
and exits with 1)."""

from __future__ import annotations

import os
import sys
import traceback


def main(directory: str, count: int, mode: str) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from yeehaw_tf.data.proposals import search_chunk

    try:
        with np.load(os.path.join(directory, "images.npz")) as data:
            images = [data[f"image_{i}"] for i in range(len(data.files))]
        boxes = search_chunk(images, count, mode)
    except Exception as error:  # noqa: BLE001 -- handed to the parent, which raises it
        with open(os.path.join(directory, "error.txt"), "w") as f:
            f.write(f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}")
        return 1
    staging = os.path.join(directory, "partial.npy")
    np.save(staging, boxes)
    os.replace(staging, os.path.join(directory, "proposals.npy"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
