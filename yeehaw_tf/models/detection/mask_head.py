"""The mask branch of Mask R-CNN (He et al., 2017): a small FCN on each RoI predicts one
``M x M`` mask per class.

* Head (the paper's FPN head, torchvision's ``MaskRCNNHeads`` + ``MaskRCNNPredictor``): RoIAlign
  to 14 x 14, four 3x3 convs with ReLU, a 2x2 stride-2 transposed conv with ReLU (28 x 28), a 1x1
  conv to ``C + 1`` mask logits (one per class, background included as torchvision does).
* Training: on the positive RoIs only, the target is the RoI's ground-truth mask RoIAligned to
  ``M x M`` (:func:`mask_targets`: soft values at the edges), and the loss is
  the mean per-pixel binary cross-entropy of the mask of the RoI's ground-truth class only ("we
  do not let the classes compete").
* Inference: the head runs on the final detections' boxes; the mask of the detected class,
  through a sigmoid, is the ``M x M`` mask in box coordinates (the TF Object Detection API's
  ``detection_masks``); :func:`paste_masks` puts it back into the image.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.ops.roi import roi_align


@dataclasses.dataclass(frozen=True)
class MaskHeadConfig:
    """The mask branch, as data; the defaults are the paper's FPN head. ``rois_per_image``
    caps the positive RoIs the head trains on per image (``None``: every positive slot, as
    the paper)."""

    pool_size: int = 14
    sampling_ratio: int = 2
    width: int = 256
    depth: int = 4
    rois_per_image: int | None = None

    @property
    def mask_size(self) -> int:
        return 2 * self.pool_size


def mask_head(config: MaskHeadConfig, channels: int, num_classes: int) -> keras.Model:
    """``pooled [K, P, P, channels] -> mask logits [K, 2P, 2P, C + 1]``."""
    p = config.pool_size
    pooled = keras.Input((p, p, channels), name="pooled")
    x = pooled
    init = keras.initializers.HeNormal()
    for i in range(config.depth):
        x = keras.layers.Conv2D(
            config.width,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=init,
            name=f"mask_fcn{i + 1}",
        )(x)
    x = keras.layers.Conv2DTranspose(
        config.width, 2, strides=2, activation="relu", kernel_initializer=init, name="conv5_mask"
    )(x)
    logits = keras.layers.Conv2D(num_classes + 1, 1, kernel_initializer=init, name="mask_logits")(x)
    return keras.Model(pooled, logits, name="mask_head")


def class_masks(mask_logits, labels):
    """``mask_logits [K, M, M, C + 1]`` -> the logits of each RoI's class ``labels [K]``
    (class + 1): ``[K, M, M]``."""
    logits = tf.transpose(tf.cast(mask_logits, tf.float32), [0, 3, 1, 2])
    return tf.gather(logits, labels[:, None], batch_dims=1)[:, 0]


def mask_targets(gt_masks, rois, gt_index, mask_size: int):
    """The ``[B, P, M, M]`` targets of ``rois [B, P, 4]`` (pixels) matched to ground truth
    ``gt_index [B, P]`` of ``gt_masks [B, G, H, W]``: each RoI's mask RoIAligned to ``M x M``,
    one sample at each bin's centre (torchvision's ``project_masks_on_boxes``) with
    ``aligned=True`` (Detectron2's ``BitMasks.crop_and_resize``): pixel ``i`` covers
    ``[i, i + 1)`` as our boxes say, so a box drawn tight around a mask gives all ones
    (torchvision's ``aligned=False`` reads half a pixel past the far edges)."""
    height, width = gt_masks.shape[2], gt_masks.shape[3]
    picks = rois.shape[1]
    # the matched masks only, one map per RoI (not every padded ground-truth slot)
    matched = tf.gather(gt_masks, gt_index, batch_dims=1)  # [B, P, H, W]
    masks = tf.reshape(tf.cast(matched, tf.float32), [-1, height, width, 1])
    which = tf.cast(tf.range(tf.shape(masks)[0]), tf.float32)[:, None]
    flat_rois = tf.concat([which, tf.reshape(rois, [-1, 4])], axis=1)
    # one map per RoI: gathers, whose cost does not grow with the number of maps
    targets = roi_align(masks, flat_rois, mask_size, 1.0, 1, True, method="gather")
    return tf.reshape(targets, [-1, picks, mask_size, mask_size])


def mask_loss(logits, targets, weights):
    """Mean binary cross-entropy per pixel over the RoIs with ``weights [B, P]`` 1 (torchvision's
    ``maskrcnn_loss``); ``logits`` and ``targets`` ``[B, P, M, M]``."""
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    pixels = float(logits.shape[-1] * logits.shape[-2])
    count = tf.maximum(tf.reduce_sum(weights) * pixels, 1.0)
    return tf.reduce_sum(bce * weights[..., None, None]) / count


def paste_masks(masks, boxes, height: int, width: int, threshold: float = 0.5) -> np.ndarray:
    """``masks [K, M, M]`` probabilities in box coordinates and their ``boxes [K, 4]`` xyxy
    pixels -> ``[K, height, width]`` binary image masks. Pixel ``(i, j)`` (centre
    ``(j + 0.5, i + 0.5)``) inside a box reads the mask bilinearly at
    ``(j + 0.5 - x1) / (x2 - x1) * M - 0.5`` (edges clamped), the inverse of RoIAlign's
    sampling; pixels outside the box are 0."""
    masks = np.asarray(masks, np.float64)
    boxes = np.asarray(boxes, np.float64)
    out = np.zeros((len(masks), height, width), bool)
    size = masks.shape[-1]
    for k, (mask, (x1, y1, x2, y2)) in enumerate(zip(masks, boxes, strict=True)):
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            continue
        cols = np.arange(max(int(np.floor(x1)), 0), min(int(np.ceil(x2)), width))
        rows = np.arange(max(int(np.floor(y1)), 0), min(int(np.ceil(y2)), height))
        if not len(cols) or not len(rows):
            continue
        u = np.clip((cols + 0.5 - x1) / (x2 - x1) * size - 0.5, 0, size - 1)
        v = np.clip((rows + 0.5 - y1) / (y2 - y1) * size - 0.5, 0, size - 1)
        u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
        u1, v1 = np.minimum(u0 + 1, size - 1), np.minimum(v0 + 1, size - 1)
        fu, fv = (u - u0)[None, :], (v - v0)[:, None]
        value = (
            mask[v0][:, u0] * (1 - fv) * (1 - fu)
            + mask[v0][:, u1] * (1 - fv) * fu
            + mask[v1][:, u0] * fv * (1 - fu)
            + mask[v1][:, u1] * fv * fu
        )
        out[k, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = value >= threshold
    return out
