"""Box geometry for augmentation: relative yxyx <-> pixel xyxy, clipping, dropping.

Detection targets hold relative ``[ymin, xmin, ymax, xmax]`` boxes (Keras's ``rel_yxyx``).
Keras's image layers are driven here with ``bounding_box_format="xyxy"`` (pixels): that is the
format their box code works in, and it avoids ``RandomRotation``'s missing conversion from any
other format (see ``docs/augmentation.md``).
"""

from __future__ import annotations

import tensorflow as tf

MAX_BOXES = 100


def relative_yxyx_to_xyxy(boxes, height, width) -> tf.Tensor:
    """``[..., 4]`` relative yxyx -> pixel ``[x1, y1, x2, y2]`` for an image ``height x width``."""
    ymin, xmin, ymax, xmax = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    return tf.stack([xmin * w, ymin * h, xmax * w, ymax * h], axis=-1)


def xyxy_to_relative_yxyx(boxes, height, width) -> tf.Tensor:
    """The inverse of :func:`relative_yxyx_to_xyxy`."""
    x1, y1, x2, y2 = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    return tf.stack([y1 / h, x1 / w, y2 / h, x2 / w], axis=-1)


def clean_boxes(
    boxes, classes, max_boxes: int = MAX_BOXES, masks=None, drop_empty_masks: bool = False
):
    """Clips relative boxes to [0, 1], drops the empty ones, keeps the first ``max_boxes``
    (and the same rows of ``masks [K, H, W]`` when given, returned third). With
    ``drop_empty_masks`` an object whose mask has no pixel left is dropped too, whatever its box
    says (augmentation can move a sliver of a box, but none of its mask, into the image)."""
    boxes = tf.clip_by_value(tf.cast(boxes, tf.float32), 0.0, 1.0)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    if masks is not None and drop_empty_masks:
        keep &= tf.reduce_any(tf.reshape(masks > 0, [tf.shape(masks)[0], -1]), axis=1)
    boxes, classes = tf.boolean_mask(boxes, keep), tf.boolean_mask(classes, keep)
    cleaned = boxes[:max_boxes], tf.cast(classes[:max_boxes], tf.int32)
    if masks is None:
        return cleaned
    return (*cleaned, tf.boolean_mask(masks, keep)[:max_boxes])
