"""Faster R-CNN (Ren et al., 2015), with or without FPN (Lin et al., 2017), and Mask R-CNN
(He et al., 2017), assembled from parts: a backbone (passed in), an optional FPN neck, the RPN
(:mod:`~yeehaw_tf.models.detection.rpn`), the box head
(:mod:`~yeehaw_tf.models.detection.roi_heads`) and, for Mask R-CNN, the mask head
(:mod:`~yeehaw_tf.models.detection.mask_head`), joined by
:class:`~yeehaw_tf.models.detection.two_stage.TwoStageNetwork`. All four (five) losses are
trained jointly ("approximate joint training", the paper's section 3.2).

Without FPN the RPN and the RoI pooling share one backbone level (the paper's C4, stride 16);
with FPN the RPN runs on P2..P6 (P6 a stride-2 subsample of P5) and each RoI is pooled from
the level its size gives (``ops.roi.multilevel_roi_align``).

The family contract (``models/detection/__init__.py``), two-stage form: ``build``,
``anchors``, ``forward`` (the training outputs, RoI sampling included), ``loss`` and
``detect`` (proposals, second stage, post-processor and masks, all in the graph).

Variants (registered in ``models/registry.py``):

* ``faster_rcnn`` / ``faster_rcnn_fpn`` / ``mask_rcnn``: sized for 64x64 ``shapes`` on two CPU
  cores (the small backbone, 64-wide FPN, 256-wide box head, fewer proposals and RoIs);
* ``fasterrcnn_resnet50_fpn`` / ``maskrcnn_resnet50_fpn``: torchvision's, with its parameter
  counts (41,755,286 and 44,401,393 for 90 classes + background, batch-norm weights apart).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from yeehaw_tf.models.detection.anchor_generator import AnchorGenerator
from yeehaw_tf.models.detection.backbones import check_backbone, small_backbone
from yeehaw_tf.models.detection.fpn import fpn_neck
from yeehaw_tf.models.detection.mask_head import MaskHeadConfig, mask_head
from yeehaw_tf.models.detection.roi_heads import RoIHeadsConfig, box_head, per_image_losses
from yeehaw_tf.models.detection.rpn import RPNConfig, rpn_head
from yeehaw_tf.models.detection.two_stage import TwoStageNetwork
from yeehaw_tf.ops.levels import BACKBONE, level_key


@dataclasses.dataclass(frozen=True)
class FasterRCNNConfig:
    """A two-stage variant, as data. ``levels``: the levels RoIs are pooled from (with FPN:
    P2..P5; without: one backbone level). ``mask``: a mask head config makes it Mask R-CNN."""

    levels: Sequence[int] = (2, 3, 4, 5)
    fpn: bool = True
    fpn_channels: int = 256
    rpn: RPNConfig = RPNConfig()
    roi_heads: RoIHeadsConfig = RoIHeadsConfig()
    mask: MaskHeadConfig | None = None

    def __post_init__(self):
        levels = list(self.levels)
        if not levels or levels != list(range(levels[0], levels[0] + len(levels))):
            raise ValueError(f"FasterRCNNConfig: levels must be consecutive, got {levels}")
        if not self.fpn and len(levels) != 1:
            raise ValueError(f"FasterRCNNConfig: without FPN give one level, got {levels}")
        rpn_levels = list(self.rpn.anchors.levels)
        if not self.fpn and rpn_levels != levels:
            raise ValueError(
                f"FasterRCNNConfig: without FPN the RPN's anchors must be on level {levels}, "
                f"got {rpn_levels}"
            )
        if self.fpn and rpn_levels[0] != levels[0]:
            raise ValueError(
                f"FasterRCNNConfig: the RPN's levels {rpn_levels} must start at {levels[0]}"
            )


class FasterRCNN:
    """The two-stage family (Faster R-CNN, and Mask R-CNN when ``config.mask`` is set).

    Args:
        config: the variant (:class:`FasterRCNNConfig`).
        backbone: ``backbone(input_shape) -> keras.Model`` returning ``{"C<l>": ...}``.
        name: the variant's registered name.
    """

    def __init__(
        self,
        config: FasterRCNNConfig,
        backbone: Callable[[tuple], keras.Model],
        name: str = "faster_rcnn",
    ):
        self.config = config
        self.backbone = backbone
        self.name = name

    @property
    def loss_names(self) -> tuple[str, ...]:
        names = ("rpn_objectness", "rpn_box", "classification", "box")
        return (*names, "mask") if self.uses_masks else names

    @property
    def uses_masks(self) -> bool:
        return self.config.mask is not None

    # ----------------------------------------------------------------------------- network
    def build(self, num_classes: int, input_shape: Sequence[int]) -> TwoStageNetwork:
        c = self.config
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"{self.name}: num_classes must be a positive int, got {num_classes}")
        backbone = self.backbone(tuple(input_shape))
        levels = list(c.levels)
        check_backbone(backbone, levels, self.name)
        images = keras.Input(tuple(input_shape), name="images")
        maps = backbone(images)
        if c.fpn:
            pyramid = fpn_neck(maps, c.fpn_channels, levels[0], c.rpn.anchors.levels[-1], "pool")
            width = c.fpn_channels
        else:
            pyramid = {level_key(levels[0]): maps[level_key(levels[0], BACKBONE)]}
            width = int(pyramid[level_key(levels[0])].shape[-1])
        c.rpn.anchors.check_fits(pyramid, self.name)
        objectness, deltas = rpn_head(pyramid, c.rpn, width)
        outputs = {level_key(level): pyramid[level_key(level)] for level in levels}
        features = keras.Model(
            images,
            {**outputs, "objectness": objectness, "rpn_deltas": deltas},
            name="features",
        )
        heads = box_head(c.roi_heads, width, num_classes)
        masks = None if c.mask is None else mask_head(c.mask, width, num_classes)
        network = TwoStageNetwork(
            features, heads, masks, c.rpn, c.roi_heads, c.mask, tuple(input_shape), name=self.name
        )
        network(tf.zeros((1, *input_shape)))  # build
        return network

    def anchors(self, input_shape: Sequence[int]) -> tf.Tensor:
        return self.config.rpn.anchors(int(input_shape[0]), int(input_shape[1]))

    # ----------------------------------------------------------------------------- training
    def forward(self, network, images, gt_boxes, gt_classes, gt_masks, random, training):
        """The training outputs of a batch (see ``TwoStageNetwork.training_outputs``), with
        the feature maps (so evaluation can detect without a second backbone pass)."""
        features = network.features(images, training=training)
        outputs = network.training_outputs(
            features, gt_boxes, gt_classes, gt_masks, random, training
        )
        return {**outputs, "features": features, "losses": network.losses_of(outputs)}

    def loss(self, outputs, gt_boxes, gt_classes, anchors):
        """``(total, {name: loss}, number of images)`` from :meth:`forward`'s outputs: each
        loss is a mean over what it samples on this replica (torchvision's units), weighted by
        the replica's images so the Trainer's division by the global batch averages them over
        replicas (exactly torchvision's on one replica)."""
        return per_image_losses(outputs["losses"], gt_boxes)

    # ----------------------------------------------------------------------------- inference
    def detect(self, network, outputs, post_processor) -> dict:
        """Detections from :meth:`forward`'s (or ``network.features``') outputs."""
        return network.detections(outputs.get("features", outputs), post_processor)


# --- variants ---------------------------------------------------------------------------------

# Sized for 64x64 `shapes` (objects of 8-21 pixels) on two CPU cores. Without FPN: RPN and RoI
# pooling on C3 (stride 8; C4 would be 4x4), anchors of 8, 16 and 32 pixels x 3 aspect ratios.
# With FPN: P2..P4 (+P5 pooled) of 64 channels, one anchor size per level (8..64). RoI levels:
# a 16-pixel RoI goes to P3 (canonical size 16 on level 3, the paper's 224 on level 4 scaled
# to the image). Fewer proposals (pre/post NMS 600/128 training, 300/64 test) and 64 RoIs per
# image (16 foreground), as the images hold at most three objects.
_SMALL_RPN = dict(
    pre_nms_top_n_train=600,
    post_nms_top_n_train=128,
    pre_nms_top_n_test=300,
    post_nms_top_n_test=64,
)
_SMALL_ROI = RoIHeadsConfig(
    representation=256, batch_per_image=64, canonical_size=16.0, canonical_level=3
)
SMALL = FasterRCNNConfig(
    levels=(3,),
    fpn=False,
    rpn=RPNConfig(
        anchors=AnchorGenerator(levels=(3,), sizes=(8,), scales=(1.0, 2.0, 4.0)), **_SMALL_RPN
    ),
    roi_heads=_SMALL_ROI,
)
SMALL_FPN = FasterRCNNConfig(
    levels=(2, 3, 4),
    fpn=True,
    fpn_channels=64,
    rpn=RPNConfig(
        anchors=AnchorGenerator(levels=(2, 3, 4, 5), sizes=(8, 16, 32, 64), scales=(1.0,)),
        **_SMALL_RPN,
    ),
    roi_heads=_SMALL_ROI,
)
# The mask head is most of a step's cost (four 3x3 convs on 14x14 per RoI): 32 wide, trained on
# up to 8 positive RoIs per image (the scenes hold at most three objects).
SMALL_MASK = dataclasses.replace(SMALL_FPN, mask=MaskHeadConfig(width=32, rois_per_image=8))
RESNET50_FPN = FasterRCNNConfig()
RESNET50_FPN_MASK = dataclasses.replace(RESNET50_FPN, mask=MaskHeadConfig())

INPUT_SHAPES = {
    "faster_rcnn": (64, 64, 3),
    "faster_rcnn_fpn": (64, 64, 3),
    "mask_rcnn": (64, 64, 3),
    "fasterrcnn_resnet50_fpn": (800, 800, 3),
    "maskrcnn_resnet50_fpn": (800, 800, 3),
}


def _c2_c3_backbone(input_shape):
    """The small backbone up to C3 (the level Faster R-CNN without FPN pools from)."""
    return small_backbone(input_shape, widths=(32, 64, 128))


def variants(features_of: Callable[[str], Callable]) -> dict:
    """The registered two-stage variants; ``features_of(name)`` is a backbone builder."""

    def family(config, backbone, name):
        return lambda: FasterRCNN(config, backbone, name)

    resnet50 = features_of("resnet50")
    return {
        "faster_rcnn": family(SMALL, _c2_c3_backbone, "faster_rcnn"),
        "faster_rcnn_fpn": family(SMALL_FPN, small_backbone, "faster_rcnn_fpn"),
        "mask_rcnn": family(SMALL_MASK, small_backbone, "mask_rcnn"),
        "fasterrcnn_resnet50_fpn": family(RESNET50_FPN, resnet50, "fasterrcnn_resnet50_fpn"),
        "maskrcnn_resnet50_fpn": family(RESNET50_FPN_MASK, resnet50, "maskrcnn_resnet50_fpn"),
    }
