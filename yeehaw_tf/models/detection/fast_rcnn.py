"""Fast R-CNN (Girshick, ICCV 2015): the whole image through the backbone once, each region
proposal max-pooled from the last convolutional map to a fixed grid (RoIPool), two fully
connected layers, then softmax classification and per-class box regression trained together
as one multi-task loss.

* **Proposals** are an input, the same as R-CNN's: selective search in NumPy outside the
  graph, the network takes ``{"images": [B, H, W, 3], "proposals": [B, R, 4]}`` (xyxy pixels,
  a fixed ``R``, zero-area rows as padding; :mod:`~yeehaw_tf.models.detection.proposal_inputs`).
* **Network** (:class:`FastRCNNNetwork`): ``features`` (images -> the backbone map of one
  level, VGG16's conv5_3 at stride 16 in the paper, its last pooling layer dropped), the
  :class:`~yeehaw_tf.layers.roi.RoIPool` layer (7 x 7, ``spatial_scale = 1 / stride``) and the
  shared ``box_head`` of :mod:`~yeehaw_tf.models.detection.roi_heads` (fc6, fc7, ``C + 1``
  class logits, ``4 (C + 1)`` box deltas).
* **Training** (section 2.3): RoIs are sampled per image from the proposals and the ground
  truth by ``sample_rois``: 64 per image (minibatches of 2 images = 128 RoIs), 25% foreground
  at IoU >= 0.5, background at IoU in [0.1, 0.5). The multi-task loss ``L = L_cls(p, u) +
  [u >= 1] L_loc(t^u, v)`` (lambda 1) is ``roi_heads_loss``: the cross-entropy plus the smooth
  L1 (beta 1, the paper's eq. 3) of the box coding with weights (10, 10, 5, 5) (the authors'
  target normalisation by standard deviations 0.1, 0.1, 0.2, 0.2), both averaged over the
  sampled RoIs.
* **Detection**: ``decode_detections`` (per-class softmax scores and boxes) and the shared
  post-processor (per-class NMS).

Not reproduced: ImageNet initialisation (no pretrained weights here), dropout in fc6/fc7
(``box_head`` has none), multi-scale training and truncated SVD of the fc layers.

Variants (registered in ``models/registry.py``): ``fast_rcnn_vgg16`` (the paper's VGG16,
RoIPool 7 x 7 on conv5_3) and ``fast_rcnn`` (the small backbone, RoIPool from C3 at stride 8,
fc 256, for 64 x 64 ``shapes`` on two CPU cores).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from yeehaw_tf.layers.roi import RoIPool
from yeehaw_tf.models.detection.backbones import check_backbone, small_backbone
from yeehaw_tf.models.detection.proposal_inputs import (
    check_num_classes,
    check_proposals,
    no_anchors,
    proposal_valid,
    split_inputs,
)
from yeehaw_tf.models.detection.roi_heads import (
    RoIHeadsConfig,
    as_rois,
    box_head,
    decode_detections,
    per_image_losses,
    roi_heads_loss,
    sample_rois,
)
from yeehaw_tf.ops.levels import BACKBONE, level_key

# The paper's second stage: 64 RoIs per image at 25% foreground (IoU >= 0.5), background in
# [0.1, 0.5), smooth L1 with beta 1, targets normalised as (10, 10, 5, 5), fc 4096.
PAPER_ROI_HEADS = RoIHeadsConfig(
    pool_size=7,
    representation=4096,
    positive_iou=0.5,
    negative_iou=0.5,
    negative_min_iou=0.1,
    batch_per_image=64,
    positive_fraction=0.25,
    box_weights=(10.0, 10.0, 5.0, 5.0),
    beta=1.0,
)


@dataclasses.dataclass(frozen=True)
class FastRCNNConfig:
    """A Fast R-CNN variant, as data: ``level``, the backbone level RoIs are pooled from
    (stride ``2**level``), and the second stage."""

    level: int = 4
    roi_heads: RoIHeadsConfig = PAPER_ROI_HEADS

    def __post_init__(self):
        if isinstance(self.level, bool) or not isinstance(self.level, int) or self.level < 0:
            raise ValueError(f"FastRCNNConfig: level must be an int >= 0, got {self.level!r}")


def _roi_heads_from_dict(d) -> RoIHeadsConfig:
    if isinstance(d, RoIHeadsConfig):
        return d
    return RoIHeadsConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class FastRCNNNetwork(keras.Model):
    """See the module docstring.

    Args:
        features: ``images -> [B, H_l, W_l, C]`` (the map RoIs are pooled from).
        box_head: as ``roi_heads.box_head`` makes it.
        roi_heads: the second stage's config (or its dict, when loading).
        level: the level of ``features`` (``spatial_scale = 2**-level``).
        image_shape: ``(H, W, C)`` the network takes.

    Called on ``{"images", "proposals"}`` it returns ``class_logits [B, R, C + 1]``,
    ``box_deltas [B, R, C + 1, 4]``, ``proposals`` and ``proposal_valid [B, R]``."""

    def __init__(
        self, features, box_head, roi_heads, level: int, image_shape=(64, 64, 3), **kwargs
    ):
        super().__init__(**kwargs)
        self.features = features
        self.box_head = box_head
        self.roi_heads = _roi_heads_from_dict(roi_heads)
        self.level = int(level)
        self.image_shape = tuple(int(v) for v in image_shape)
        size = self.roi_heads.pool_size
        self.roi_pool = RoIPool(size, 0.5**self.level, name="roi_pool")
        self.built = True  # every weight lives in the (built) functional parts

    @property
    def num_classes(self) -> int:
        return int(self.box_head.output["class_logits"].shape[-1]) - 1

    def second_stage(self, feature_map, boxes, training=False):
        """``(class_logits [B, S, C + 1], box_deltas [B, S, C + 1, 4])`` of ``boxes [B, S,
        4]`` pooled from ``feature_map``."""
        slots, c1 = boxes.shape[1], self.num_classes + 1
        pooled = self.roi_pool([feature_map, as_rois(boxes)])
        out = self.box_head(pooled, training=training)
        return (
            tf.reshape(out["class_logits"], [-1, slots, c1]),
            tf.reshape(out["box_deltas"], [-1, slots, c1, 4]),
        )

    def call(self, inputs, training=False):
        images, proposals = split_inputs(inputs, "FastRCNNNetwork")
        logits, deltas = self.second_stage(
            self.features(images, training=training), proposals, training
        )
        return {
            "class_logits": logits,
            "box_deltas": deltas,
            "proposals": proposals,
            "proposal_valid": tf.cast(proposal_valid(proposals), tf.float32),
        }

    def detections(self, outputs: dict, post_processor) -> dict:
        """Call outputs -> the post-processed detections (the serving outputs)."""
        h, w = self.image_shape[:2]
        boxes, scores = decode_detections(
            outputs["class_logits"],
            outputs["box_deltas"],
            outputs["proposals"],
            outputs["proposal_valid"],
            self.roi_heads,
            h,
            w,
        )
        return post_processor(boxes, scores, h, w)

    def training_outputs(self, feature_map, proposals, gt_boxes, gt_classes, random, training):
        """RoIs sampled from the proposals and the ground truth, and their second stage."""
        batch, candidates = tf.shape(gt_boxes)[0], proposals.shape[1] + gt_boxes.shape[1]
        sample = sample_rois(
            proposals,
            proposal_valid(proposals),
            gt_boxes,
            gt_classes,
            random.uniform(tf.stack([batch, candidates]), "roi_sample"),
            self.roi_heads,
        )
        logits, deltas = self.second_stage(feature_map, sample["rois"], training)
        return {"sample": sample, "class_logits": logits, "box_deltas": deltas}

    def losses_of(self, outputs) -> dict:
        classification, box = roi_heads_loss(
            outputs["class_logits"], outputs["box_deltas"], outputs["sample"], self.roi_heads
        )
        return {"classification": classification, "box": box}

    def get_config(self):
        return {
            **super().get_config(),
            "features": keras.saving.serialize_keras_object(self.features),
            "box_head": keras.saving.serialize_keras_object(self.box_head),
            "roi_heads": dataclasses.asdict(self.roi_heads),
            "level": self.level,
            "image_shape": list(self.image_shape),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("features", "box_head"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


class FastRCNN:
    """The Fast R-CNN family (the contract of ``models/detection/__init__.py``, two-stage form
    with proposals as an input).

    Args:
        config: the variant (:class:`FastRCNNConfig`).
        backbone: ``backbone(input_shape) -> keras.Model`` returning ``{"C<l>": ...}`` with
            ``C<config.level>``.
        name: the variant's registered name.
    """

    loss_names = ("classification", "box")
    # proposals are a second input (selective search, outside the graph)
    takes_proposals = True

    def __init__(self, config: FastRCNNConfig, backbone: Callable, name: str = "fast_rcnn"):
        self.config = config
        self.backbone = backbone
        self.name = name

    def build(self, num_classes: int, input_shape: Sequence[int]) -> FastRCNNNetwork:
        check_num_classes(num_classes, self.name)
        c = self.config
        backbone = self.backbone(tuple(input_shape))
        check_backbone(backbone, [c.level], self.name)
        images = keras.Input(tuple(input_shape), name="images")
        feature_map = backbone(images)[level_key(c.level, BACKBONE)]
        if None in feature_map.shape[1:3]:
            raise ValueError(f"{self.name}: RoIPool needs a static input height and width")
        features = keras.Model(images, feature_map, name="features")
        head = box_head(c.roi_heads, int(feature_map.shape[-1]), num_classes)
        return FastRCNNNetwork(
            features, head, c.roi_heads, c.level, tuple(input_shape), name=self.name
        )

    def anchors(self, input_shape: Sequence[int]) -> tf.Tensor:
        return no_anchors()

    def forward(
        self,
        network,
        images,
        gt_boxes,
        gt_classes,
        gt_masks=None,
        random=None,
        training=True,
        proposals=None,
    ) -> dict:
        """The training outputs of a batch: RoIs sampled from ``proposals [B, R, 4]`` and the
        ground truth (with ``random``, the step's StepRandomness), their class logits and box
        deltas, the feature map and proposals (so :meth:`detect` needs no second backbone
        pass), and ``"losses"``. ``gt_masks`` is ignored."""
        proposals = check_proposals(proposals, f"{self.name}.forward")
        if random is None:
            raise ValueError(f"{self.name}.forward needs random (a StepRandomness)")
        feature_map = network.features(images, training=training)
        outputs = network.training_outputs(
            feature_map, proposals, gt_boxes, gt_classes, random, training
        )
        return {
            **outputs,
            "features": feature_map,
            "proposals": proposals,
            "losses": network.losses_of(outputs),
        }

    def loss(self, outputs, gt_boxes, gt_classes, anchors):
        """``(total, {name: loss}, number of images)``: each loss a mean over this replica's
        sampled RoIs, weighted by its images (as Faster R-CNN's)."""
        return per_image_losses(outputs["losses"], gt_boxes)

    def detect(self, network, outputs, post_processor) -> dict:
        """Detections from the network's call outputs or from :meth:`forward`'s (every
        proposal pooled from the stored feature map)."""
        if "features" in outputs:
            proposals = outputs["proposals"]
            logits, deltas = network.second_stage(outputs["features"], proposals, False)
            outputs = {
                "class_logits": logits,
                "box_deltas": deltas,
                "proposals": proposals,
                "proposal_valid": tf.cast(proposal_valid(proposals), tf.float32),
            }
        return network.detections(outputs, post_processor)


# --- variants ---------------------------------------------------------------------------------

# Sized for 64x64 `shapes` (objects of 8-21 pixels, at most three per image): RoIPool 7x7 from
# C3 (8x8, stride 8; C4 would be 4x4) of the small backbone, fc 256, 64 RoIs per image.
SMALL = FastRCNNConfig(level=3, roi_heads=dataclasses.replace(PAPER_ROI_HEADS, representation=256))
VGG16 = FastRCNNConfig(level=4, roi_heads=PAPER_ROI_HEADS)

# The paper rescales images to a shorter side of 600 pixels; a square 600 x 600 here.
INPUT_SHAPES = {"fast_rcnn": (64, 64, 3), "fast_rcnn_vgg16": (600, 600, 3)}


def _small_c3(input_shape):
    return small_backbone(input_shape, widths=(32, 64, 128))


def vgg16_conv5_3(vgg16_features: Callable[[tuple], keras.Model]) -> Callable:
    """A backbone builder giving VGG16's conv5_3 (stride 16) as ``"C4"``: the map pool5
    takes, as Fast R-CNN replaces the last max-pooling layer by RoIPool. ``vgg16_features``
    builds the registered ``vgg16`` with ``features=True``."""

    def backbone(input_shape):
        vgg = vgg16_features(input_shape)
        try:
            conv5_3 = vgg.get_layer("pool5").input
        except ValueError:
            raise ValueError(f"vgg16_conv5_3: {vgg.name!r} has no layer 'pool5'") from None
        return keras.Model(vgg.input, {"C4": conv5_3}, name="vgg16_conv5_3")

    return backbone


def variants(features_of: Callable[[str], Callable]) -> dict:
    """The registered Fast R-CNN variants; ``features_of(name)`` is a backbone builder."""
    vgg16 = vgg16_conv5_3(features_of("vgg16"))
    return {
        "fast_rcnn": lambda: FastRCNN(SMALL, _small_c3, "fast_rcnn"),
        "fast_rcnn_vgg16": lambda: FastRCNN(VGG16, vgg16, "fast_rcnn_vgg16"),
    }
