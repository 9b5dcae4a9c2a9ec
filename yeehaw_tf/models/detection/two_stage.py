"""The network of a two-stage detector (Faster R-CNN, with or without FPN, and Mask R-CNN): a
Keras model made of three functional parts and the maths between them.

* ``features``: images -> the RoI feature maps ``{"P<l>"}`` and the RPN's raw outputs
  (``objectness [B, N]``, ``rpn_deltas [B, N, 4]``); backbone, neck and RPN head.
* ``box_head``: pooled RoIs -> class logits and per-class box deltas.
* ``mask_head`` (Mask R-CNN): pooled RoIs -> per-class mask logits.

Between them, with no weights: proposals (:func:`~yeehaw_tf.models.detection.rpn.propose`),
RoI sampling and targets (training), multi-level RoIAlign, per-class decoding, the shared
post-processor and the masks of the final detections. Called on images the model returns the
raw inference outputs (so every weight is reached); :meth:`training_outputs` and
:meth:`detections` are what the detection task trains and serves with.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from yeehaw_tf.models.detection.anchor_generator import AnchorGenerator
from yeehaw_tf.models.detection.mask_head import (
    MaskHeadConfig,
    class_masks,
    mask_loss,
    mask_targets,
)
from yeehaw_tf.models.detection.retinanet import assign
from yeehaw_tf.models.detection.roi_heads import (
    RoIHeadsConfig,
    as_rois,
    decode_detections,
    roi_heads_loss,
    sample_rois,
)
from yeehaw_tf.models.detection.rpn import RPNConfig, propose, rpn_loss, rpn_targets
from yeehaw_tf.ops.levels import level_key, sorted_levels
from yeehaw_tf.ops.roi import multilevel_roi_align


def _rpn_from_dict(d: dict) -> RPNConfig:
    d = dict(d)
    anchors = {k: tuple(v) for k, v in d.pop("anchors").items()}
    return RPNConfig(anchors=AnchorGenerator(**anchors), **{k: _tuple(v) for k, v in d.items()})


def _tuple(v):
    return tuple(v) if isinstance(v, list) else v


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class TwoStageNetwork(keras.Model):
    """See the module docstring.

    Args:
        features, box_head, mask_head: the functional parts (``mask_head`` ``None`` for
            Faster R-CNN).
        rpn, roi_heads, mask: the configs (dataclasses, or their dicts when loading).
        image_shape: ``(H, W, C)`` the network takes.
    """

    def __init__(
        self,
        features: keras.Model,
        box_head: keras.Model,
        mask_head: keras.Model | None,
        rpn,
        roi_heads,
        mask=None,
        image_shape=(64, 64, 3),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.features = features
        self.box_head = box_head
        self.mask_head = mask_head
        self.rpn = rpn if isinstance(rpn, RPNConfig) else _rpn_from_dict(rpn)
        self.roi_heads = (
            roi_heads
            if isinstance(roi_heads, RoIHeadsConfig)
            else RoIHeadsConfig(**{k: _tuple(v) for k, v in roi_heads.items()})
        )
        if mask is not None and not isinstance(mask, MaskHeadConfig):
            mask = MaskHeadConfig(**mask)
        self.mask = mask
        if (mask is None) != (mask_head is None):
            raise ValueError("TwoStageNetwork: give mask_head and mask together, or neither")
        self.image_shape = tuple(int(v) for v in image_shape)
        self.anchors = self.rpn.anchors(*self.image_shape[:2])
        self.levels = [
            level
            for level in sorted_levels({k: None for k in features.output if k.startswith("P")})
        ]

    @property
    def num_classes(self) -> int:
        """Object classes (background not counted)."""
        return int(self.box_head.output["class_logits"].shape[-1]) - 1

    # ----------------------------------------------------------------------------- parts
    def _maps(self, features: dict) -> dict:
        return {level_key(level): features[level_key(level)] for level in self.levels}

    def _pool(self, features, boxes, size: int, sampling_ratio: int):
        """``boxes [B, S, 4]`` pixels -> pooled ``[B * S, size, size, C]``."""
        c = self.roi_heads
        return multilevel_roi_align(
            self._maps(features),
            as_rois(boxes),
            size,
            sampling_ratio,
            False,
            c.canonical_size,
            c.canonical_level,
        )

    def _boxes(self, features, boxes, training):
        slots = boxes.shape[1]
        pooled = self._pool(
            features, boxes, self.roi_heads.pool_size, self.roi_heads.sampling_ratio
        )
        out = self.box_head(pooled, training=training)
        c1 = self.num_classes + 1
        return (
            tf.reshape(out["class_logits"], [-1, slots, c1]),
            tf.reshape(out["box_deltas"], [-1, slots, c1, 4]),
        )

    def _masks(self, features, boxes, training):
        """Per-class mask logits ``[B, S, M, M, C + 1]`` of ``boxes [B, S, 4]``."""
        slots = boxes.shape[1]
        pooled = self._pool(features, boxes, self.mask.pool_size, self.mask.sampling_ratio)
        logits = self.mask_head(pooled, training=training)
        m = self.mask.mask_size
        return tf.reshape(logits, [-1, slots, m, m, self.num_classes + 1])

    def _masks_per_image(self, features, boxes):
        """:meth:`_masks` one image at a time (a ``tf.map_fn``): pooling every detection slot
        of a whole evaluation batch at once (64 images x 100 slots) needs ~20 GB of gathered
        samples."""
        maps = self._maps(features)
        keys = sorted(maps)
        m, c1 = self.mask.mask_size, self.num_classes + 1
        slots = boxes.shape[1]

        def one(args):
            *levels, image_boxes = args
            one_image = {key: level[None] for key, level in zip(keys, levels, strict=True)}
            return tf.cast(self._masks(one_image, image_boxes[None], False)[0], tf.float32)

        return tf.map_fn(
            one,
            (*[maps[key] for key in keys], boxes),
            fn_output_signature=tf.TensorSpec([slots, m, m, c1], tf.float32),
        )

    def _proposals(self, features, training):
        h, w = self.image_shape[:2]
        return propose(
            features["objectness"], features["rpn_deltas"], self.anchors, self.rpn, h, w, training
        )

    # ----------------------------------------------------------------------------- inference
    def call(self, images, training=False):
        features = self.features(images, training=training)
        boxes, _, valid = self._proposals(features, False)
        logits, deltas = self._boxes(features, boxes, training)
        outputs = {
            "objectness": features["objectness"],
            "rpn_deltas": features["rpn_deltas"],
            "proposals": boxes,
            "proposal_valid": tf.cast(valid, tf.float32),
            "class_logits": logits,
            "box_deltas": deltas,
        }
        if self.mask_head is not None:
            outputs["mask_logits"] = self._masks(features, boxes, training)
        return outputs

    def detections(self, features, post_processor) -> dict:
        """The post-processed detections of :meth:`features` outputs (the serving outputs),
        with ``masks [B, K, M, M]`` (probabilities in box coordinates) for Mask R-CNN."""
        h, w = self.image_shape[:2]
        boxes, _, valid = self._proposals(features, False)
        logits, deltas = self._boxes(features, boxes, False)
        per_class, scores = decode_detections(logits, deltas, boxes, valid, self.roi_heads, h, w)
        found = post_processor(per_class, scores, h, w)
        if self.mask_head is None:
            return found
        scale = tf.constant([w, h, w, h], tf.float32)
        pixels = tf.gather(found["boxes"], [1, 0, 3, 2], axis=-1) * scale  # rel yxyx -> xyxy
        logits = self._masks_per_image(features, pixels)
        shape = tf.shape(logits)
        m = self.mask.mask_size
        flat = tf.reshape(logits, [-1, m, m, self.num_classes + 1])
        chosen = class_masks(flat, tf.reshape(tf.cast(found["classes"], tf.int32) + 1, [-1]))
        valid = tf.range(post_processor.max_detections)[None] < found["num_detections"][:, None]
        masks = (
            tf.sigmoid(tf.reshape(chosen, shape[:4])) * tf.cast(valid, tf.float32)[..., None, None]
        )
        return {**found, "masks": masks}

    # ----------------------------------------------------------------------------- training
    def training_outputs(self, features, gt_boxes, gt_classes, gt_masks, random, training):
        """Everything :meth:`losses` needs for one batch: proposals sampled against the ground
        truth (``random``: the step's :class:`~yeehaw_tf.training.randomness.StepRandomness`),
        the second stage run on the sampled RoIs, and the RPN's sampled anchors."""
        batch = tf.shape(gt_boxes)[0]
        matches, matched, _ = assign(
            self.anchors, gt_boxes, gt_classes, self.rpn.positive_iou, self.rpn.negative_iou
        )
        n = int(self.anchors.shape[0])
        positive, negative = rpn_targets(
            matches, random.uniform(tf.stack([batch, n]), "rpn_sample"), self.rpn
        )
        boxes, _, valid = self._proposals(features, training)
        candidates = boxes.shape[1] + gt_boxes.shape[1]
        sample = sample_rois(
            boxes,
            valid,
            gt_boxes,
            gt_classes,
            random.uniform(tf.stack([batch, candidates]), "roi_sample"),
            self.roi_heads,
        )
        logits, deltas = self._boxes(features, sample["rois"], training)
        outputs = {
            "objectness": features["objectness"],
            "rpn_deltas": features["rpn_deltas"],
            "rpn_matched_boxes": matched,
            "rpn_positive": positive,
            "rpn_negative": negative,
            "sample": sample,
            "class_logits": logits,
            "box_deltas": deltas,
        }
        if self.mask_head is not None:
            p = min(
                self.roi_heads.max_positives,
                sample["rois"].shape[1],
                self.mask.rois_per_image or sample["rois"].shape[1],
            )
            rois = sample["rois"][:, :p]
            labels = sample["labels"][:, :p]
            logits = self._masks(features, rois, training)
            m = self.mask.mask_size
            chosen = class_masks(
                tf.reshape(logits, [-1, m, m, self.num_classes + 1]), tf.reshape(labels, [-1])
            )
            outputs["mask_logits"] = tf.reshape(chosen, [-1, p, m, m])
            outputs["mask_targets"] = mask_targets(gt_masks, rois, sample["gt_index"][:, :p], m)
            outputs["mask_weights"] = tf.cast(labels > 0, tf.float32) * sample["weights"][:, :p]
        return outputs

    def losses_of(self, outputs) -> dict:
        """The named losses (each a mean over what it samples, see the stage modules)."""
        objectness, rpn_box = rpn_loss(
            outputs["objectness"],
            outputs["rpn_deltas"],
            self.anchors,
            outputs["rpn_matched_boxes"],
            outputs["rpn_positive"],
            outputs["rpn_negative"],
            self.rpn,
        )
        classification, box = roi_heads_loss(
            outputs["class_logits"], outputs["box_deltas"], outputs["sample"], self.roi_heads
        )
        losses = {
            "rpn_objectness": objectness,
            "rpn_box": rpn_box,
            "classification": classification,
            "box": box,
        }
        if self.mask_head is not None:
            losses["mask"] = mask_loss(
                outputs["mask_logits"], outputs["mask_targets"], outputs["mask_weights"]
            )
        return losses

    # ----------------------------------------------------------------------------- config
    def get_config(self):
        return {
            **super().get_config(),
            "features": keras.saving.serialize_keras_object(self.features),
            "box_head": keras.saving.serialize_keras_object(self.box_head),
            "mask_head": (
                None
                if self.mask_head is None
                else keras.saving.serialize_keras_object(self.mask_head)
            ),
            "rpn": dataclasses.asdict(self.rpn),
            "roi_heads": dataclasses.asdict(self.roi_heads),
            "mask": None if self.mask is None else dataclasses.asdict(self.mask),
            "image_shape": list(self.image_shape),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("features", "box_head", "mask_head"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
