"""Region proposals as a second input, for the families that take them from outside the
graph (R-CNN, Fast R-CNN): selective search (:mod:`yeehaw_tf.ops.selective_search`) runs in
NumPy, and the network takes ``{"images": [B, H, W, 3], "proposals": [B, R, 4]}``.

Proposals are xyxy pixels (far edges exclusive) in a fixed number ``R`` of slots per image,
best ranked first; a padding slot is any box of zero area (:func:`proposal_valid`).
Selective search never returns one (a region covers at least one pixel), and
:func:`pad_proposals` pads with zero rows, so no separate mask travels with the proposals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from yeehaw_tf.ops.selective_search import selective_search


def proposal_valid(proposals) -> tf.Tensor:
    """``[..., R]`` bool: the slots holding a proposal (positive width and height)."""
    p = tf.convert_to_tensor(proposals, tf.float32)
    return (p[..., 2] > p[..., 0]) & (p[..., 3] > p[..., 1])


def pad_proposals(boxes_per_image: Sequence, count: int) -> np.ndarray:
    """``float32 [B, count, 4]``: each image's first ``count`` boxes (best ranked), zero rows
    (padding) after."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"pad_proposals: count must be a positive int, got {count!r}")
    out = np.zeros((len(boxes_per_image), count, 4), np.float32)
    for i, boxes in enumerate(boxes_per_image):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)[:count]
        out[i, : len(boxes)] = boxes
    return out


def selective_search_proposals(images, count: int, **options) -> np.ndarray:
    """Selective search on each ``uint8 [B, H, W, 3]`` image, padded to ``[B, count, 4]``;
    ``options`` go to :func:`~yeehaw_tf.ops.selective_search.selective_search` (``mode``,
    ``seed``, ...)."""
    boxes = [selective_search(image, max_proposals=count, **options) for image in images]
    return pad_proposals(boxes, count)


def split_inputs(inputs, who: str):
    """``(images, proposals float32)`` from a network's input dict, with a clear error."""
    if not isinstance(inputs, dict) or {"images", "proposals"} - set(inputs):
        got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(
            f"{who} takes {{'images': [B, H, W, 3], 'proposals': [B, R, 4]}} (proposals xyxy "
            f"pixels, zero-area rows as padding), got {got}"
        )
    return inputs["images"], check_proposals(inputs["proposals"], who)


def check_proposals(proposals, who: str) -> tf.Tensor:
    """``proposals`` as float32 ``[B, R, 4]`` with a static ``R``, or a clear error."""
    if proposals is None:
        raise ValueError(
            f"{who} needs proposals [B, R, 4] xyxy pixels (e.g. selective_search_proposals)"
        )
    proposals = tf.cast(proposals, tf.float32)
    if proposals.shape.rank != 3 or proposals.shape[-1] != 4 or proposals.shape[1] is None:
        raise ValueError(
            f"{who}: proposals must be [B, R, 4] with a static R, got shape {proposals.shape}"
        )
    return proposals


def no_anchors() -> tf.Tensor:
    """Proposal-fed families have no priors: an empty ``[0, 4]``."""
    return tf.zeros([0, 4], tf.float32)


def check_num_classes(num_classes, who: str) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{who}: num_classes must be a positive int, got {num_classes!r}")
