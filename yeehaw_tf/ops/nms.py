"""Non-maximum suppression: greedy (one class and per class) and Gaussian soft-NMS.

Greedy NMS walks the boxes from the highest score down and keeps a box unless it overlaps an
already kept one by more than ``iou_threshold``. The result is exactly that of
``tf.image.non_max_suppression`` (same indices, same order, ties broken by the lower index).

It is computed in tiles of ``T`` score-sorted boxes, as TensorFlow's padded NonMaxSuppression
does, so no ``N x N`` matrix is ever built. ``T`` is the power of two at or above
``max_outputs``, clamped to ``[128, 512]`` (``TILE``): one tile then can hold all the outputs,
and small requests do not pay for a 512 x 512 block. For each tile, in a ``tf.while_loop``:

1. boxes overlapping an already kept box are suppressed: one ``[T, count]`` IoU block against
   a buffer of the ``count`` boxes kept so far;
2. the ``m`` survivors, moved to the front, suppress each other: with ``M[j, i]`` = "earlier
   box ``j`` overlaps ``i``" (an ``[m, m]`` block), ``keep_i = not any_j(keep_j and M[j, i])``
   is iterated from ``keep = all`` until it stops changing. Greedy NMS is the unique
   solution of these triangular equations, and after ``r`` rounds the first ``r`` boxes are
   final, so the iteration ends, exactly, after at most ``m + 1`` rounds -- in practice a
   handful (about the length of the longest chain of boxes that suppress one another);
3. the kept ones are appended, in order, to the buffer and the output.

The loop stops as soon as ``max_outputs`` boxes are kept or the boxes above
``score_threshold`` run out. With ``N`` boxes, ``N'`` of them above the score threshold,
``K = max_outputs`` and ``r`` rounds per tile:

- time: ``O(N log N)`` for the sort, plus at most ``O(N' K + N' T r)`` IoUs, in at most
  ``ceil(N' / T)`` sequential tiles (one, when the first tile holds ``K`` kept boxes);
- memory: ``O(N + T (T + K))``: about 3 MB per temporary for 10,000 boxes and ``K = 1000``,
  0.1 MB for ``K = 100``, where an ``N x N`` IoU matrix takes 400 MB.

The loop variables have fixed shapes and every op is a TFLite builtin (WHILE, GATHER,
TOPK_V2, SCATTER_ND, ...), so ``nms(..., padded=True)`` converts with ``TFLITE_BUILTINS``
only. Speed against the C++ kernel: ``benchmarks/box_ops.py`` and ``benchmarks/RESULTS.md``.

Soft-NMS computes the IoU of each selected box with all boxes inside its loop: ``O(N)``
memory, ``O(N)`` work per selection.

Half-precision boxes and scores are upcast to float32 first (as in ``ops.boxes``): in float16
the areas of boxes over ~181 pixels overflow, so nothing would be suppressed.
"""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.ops.boxes import convert_boxes, iou, upcast

TILE = 512  # the most score-sorted boxes per step of greedy NMS, as TensorFlow's padded NMS


def _validate(boxes, scores, iou_threshold, max_outputs):
    """Checks the arguments; returns ``boxes`` and ``scores`` upcast to float32 if half
    precision."""
    boxes, scores = upcast(boxes), upcast(scores)
    if boxes.shape.rank != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape [N, 4], got {boxes.shape}")
    if scores.shape.rank != 1:
        raise ValueError(f"scores must have shape [N], got {scores.shape}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    if not isinstance(max_outputs, int) or max_outputs < 1:
        raise ValueError(f"max_outputs must be a positive integer, got {max_outputs!r}")
    return boxes, scores


def _suppress_within(overlaps, alive):
    """Greedy NMS inside one tile: ``overlaps[j, i]`` says that earlier box ``j`` overlaps box
    ``i``. Iterates ``keep = alive & ~any_j(keep_j & overlaps[j, :])`` to its fixed point,
    which is the greedy result (see the module docstring)."""

    def step(keep):
        return alive & ~tf.reduce_any(overlaps & keep[:, None], axis=0)

    def body(keep, _):
        return step(keep), keep

    keep, _ = tf.while_loop(
        lambda keep, previous: tf.reduce_any(tf.not_equal(keep, previous)),
        body,
        [step(alive), alive],
    )
    return keep


def _compact(mask, size, start=0):
    """Positions of the ``True`` entries of ``mask`` (``[T]``), in order, written to entries
    ``start, start + 1, ...`` of a ``[size]`` vector that is -1 elsewhere; those that would go
    past ``size`` are dropped. A scatter rather than ``tf.where``: the shape is fixed."""
    slot = start + tf.cumsum(tf.cast(mask, tf.int32)) - 1
    target = tf.where(mask & (slot < size), slot, size)  # the rest go to a discarded slot
    positions = tf.range(tf.shape(mask)[0])
    return tf.scatter_nd(target[:, None], positions + 1, [size + 1])[:-1] - 1


def _greedy_nms(xyxy, scores, iou_threshold, score_threshold, max_outputs):
    """Tiled greedy NMS on ``[N, 4]`` xyxy boxes: ``(indices [max_outputs] padded with -1,
    count)``."""
    order = tf.argsort(scores, direction="DESCENDING", stable=True)
    above = tf.gather(scores, order) > tf.cast(score_threshold, scores.dtype)
    n_valid = tf.reduce_sum(tf.cast(above, tf.int32))  # a prefix of ``order``
    # A tile need not hold more than max_outputs boxes to finish in one step, and its
    # self-suppression costs tile^2: 128, 256 or 512 boxes, never more than there are.
    tile = min(TILE, max(TILE // 4, 1 << (max_outputs - 1).bit_length()))
    tile = tile if xyxy.shape[0] is None else max(1, min(tile, xyxy.shape[0]))
    num_tiles = (n_valid + tile - 1) // tile
    threshold = tf.cast(iou_threshold, xyxy.dtype)
    positions = tf.range(tile)
    earlier = positions[:, None] < positions[None, :]  # [j, i]: j comes before i

    def body(t, count, kept_boxes, kept):
        position = t * tile + positions
        index = tf.gather(order, tf.minimum(position, n_valid - 1))
        boxes = tf.gather(xyxy, index)
        # 1. Boxes overlapping one kept in an earlier tile go.
        by_kept = iou(boxes, kept_boxes[:count]) > threshold
        alive = (position < n_valid) & ~tf.reduce_any(by_kept, axis=1)
        # 2. Greedy NMS among the m survivors, moved to the front.
        m = tf.reduce_sum(tf.cast(alive, tf.int32))
        source = tf.maximum(_compact(alive, tile), 0)  # the tail repeats box 0, unused
        index, boxes = tf.gather(index, source), tf.gather(boxes, source)
        overlaps = (iou(boxes[:m], boxes[:m]) > threshold) & earlier[:m, :m]
        keep = _suppress_within(overlaps, tf.ones([m], tf.bool))
        # 3. Append the kept ones, in order, to the buffer and the output.
        source = _compact(keep, max_outputs, start=count)
        filled = source >= 0
        source = tf.maximum(source, 0)
        kept_boxes = tf.where(filled[:, None], tf.gather(boxes, source), kept_boxes)
        kept = tf.where(filled, tf.gather(index, source), kept)
        count = tf.minimum(count + tf.reduce_sum(tf.cast(keep, tf.int32)), max_outputs)
        return t + 1, count, kept_boxes, kept

    _, count, _, kept = tf.while_loop(
        lambda t, count, *_: (t < num_tiles) & (count < max_outputs),
        body,
        [
            tf.constant(0),
            tf.constant(0),
            tf.zeros([max_outputs, 4], xyxy.dtype),
            tf.fill([max_outputs], -1),
        ],
    )
    return kept, count


def nms(
    boxes,
    scores,
    iou_threshold: float = 0.5,
    score_threshold: float = float("-inf"),
    max_outputs: int = 100,
    box_format: str = "xyxy",
    padded: bool = False,
):
    """Greedy NMS. Returns the kept indices in descending score order (at most
    ``max_outputs``); with ``padded=True``, ``(indices [max_outputs] padded with -1, count)``
    -- a fixed shape for exports. Boxes scoring at or below ``score_threshold`` are dropped
    (as ``tf.image.non_max_suppression`` does). Memory ``O(N + 512 (512 + max_outputs))``;
    see the module docstring for the algorithm and its cost."""
    boxes, scores = _validate(boxes, scores, iou_threshold, max_outputs)
    xyxy = _corners_in_order(convert_boxes(boxes, box_format, "xyxy"))
    kept, count = _greedy_nms(xyxy, scores, iou_threshold, score_threshold, max_outputs)
    return (kept, count) if padded else kept[:count]


def _corners_in_order(xyxy):
    """``(min x, min y, max x, max y)``: a box given with its corners swapped is the same box
    (as TensorFlow's NMS kernels read it)."""
    x1, y1, x2, y2 = tf.unstack(xyxy, axis=-1)
    return tf.stack(
        [tf.minimum(x1, x2), tf.minimum(y1, y2), tf.maximum(x1, x2), tf.maximum(y1, y2)], -1
    )


def batched_nms(
    boxes,
    scores,
    classes,
    iou_threshold: float = 0.5,
    score_threshold: float = float("-inf"),
    max_outputs: int = 100,
    box_format: str = "xyxy",
    padded: bool = False,
):
    """Per-class NMS in one pass: each class's boxes are shifted by ``class * (extent + 1)`` so
    boxes of different classes never overlap. Same returns as :func:`nms`."""
    boxes, scores = _validate(boxes, scores, iou_threshold, max_outputs)
    xyxy = convert_boxes(boxes, box_format, "xyxy")
    offset = tf.reduce_max(tf.abs(xyxy)) + 1.0 if xyxy.shape[0] != 0 else 1.0
    shifted = xyxy + tf.cast(classes, xyxy.dtype)[:, None] * offset
    return nms(shifted, scores, iou_threshold, score_threshold, max_outputs, padded=padded)


def soft_nms(
    boxes,
    scores,
    sigma: float = 0.5,
    score_threshold: float = 1e-3,
    max_outputs: int = 100,
    box_format: str = "xyxy",
):
    """Gaussian soft-NMS (Bodla et al., 2017): instead of removing overlapping boxes, each
    selection decays the others' scores by ``exp(-IoU^2 / sigma)``. Returns
    ``(indices, rescored)`` in selection order, stopping at ``max_outputs`` or when no score
    exceeds ``score_threshold``; ``rescored`` has the dtype of ``scores`` (the decays are
    accumulated in float32 for half-precision scores)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    dtype = tf.convert_to_tensor(scores).dtype
    boxes, scores = _validate(boxes, scores, 0.0, max_outputs)
    xyxy = _corners_in_order(convert_boxes(boxes, box_format, "xyxy"))
    n = tf.shape(scores)[0]
    current = tf.identity(scores)
    indices = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    values = tf.TensorArray(scores.dtype, size=0, dynamic_size=True)
    active = tf.ones([n], tf.bool)

    def still_active(current, active):
        return tf.where(active, current, tf.fill([n], tf.cast(-1e30, current.dtype)))

    def cond(k, current, active, indices, values):
        best = tf.reduce_max(still_active(current, active))
        return (k < max_outputs) & tf.reduce_any(active) & (best > score_threshold)

    def body(k, current, active, indices, values):
        i = tf.cast(tf.argmax(still_active(current, active)), tf.int32)
        indices = indices.write(k, i)
        values = values.write(k, current[i])
        active = tf.tensor_scatter_nd_update(active, [[i]], [False])
        overlaps = iou(tf.gather(xyxy, [i]), xyxy)[0]  # one row at a time: O(N) memory
        decay = tf.exp(-tf.square(overlaps) / tf.cast(sigma, overlaps.dtype))
        current = tf.where(active, current * tf.cast(decay, current.dtype), current)
        return k + 1, current, active, indices, values

    _, current, _, indices, values = tf.while_loop(
        cond, body, [0, current, active, indices, values]
    )
    return indices.stack(), tf.cast(values.stack(), dtype)
