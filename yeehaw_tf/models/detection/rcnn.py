"""R-CNN (Girshick et al., CVPR 2014): class-agnostic region proposals, each warped to a fixed
size and passed through a CNN, scored by one linear SVM per class on its fc7 features, and its
box refined by a class-specific linear regressor on its pool5 features.

* **Proposals** are an input: selective search runs in NumPy outside the graph, and the
  network takes ``{"images": [B, H, W, 3], "proposals": [B, R, 4]}`` (xyxy pixels, a fixed
  ``R``, zero-area rows as padding; :mod:`~yeehaw_tf.models.detection.proposal_inputs`).
  Fast R-CNN takes the same.
* **Warp**: each proposal is dilated so that ``context_padding`` pixels of image context
  surround it at the warped size (the paper's ``p = 16`` at 227), then warped anisotropically
  to ``warp_size x warp_size`` by one bilinear sample per output pixel at its centre:
  :func:`~yeehaw_tf.ops.roi.roi_align` with ``sampling_ratio=1, aligned=True`` (TFLite has no
  builtin ``crop_and_resize``; this is one, from builtins). Past the image's edge a sample reads
  the edge pixel within one pixel, then 0: the dataset mean after standardisation, as the paper
  fills with the mean.
* **Network** (:class:`RCNNNetwork`): ``cnn`` (the backbone's last level = pool5, flattened;
  fc6, fc7 with ReLU and dropout) and ``heads``: the fine-tuning classifier (``C + 1``-way
  softmax, section 2.3), the SVMs (``C`` scores on fc7) and the box regressors (``4 C`` on
  pool5). SVMs and regressors are non-trainable: no gradient step touches them, the fits of
  stages 2 and 3 set them.

Training, the paper's three stages:

1. :meth:`RCNN.forward` / :meth:`RCNN.loss` (the Trainer's step): fine-tune the CNN with the
   softmax on warped proposals (plus the ground truth), IoU >= 0.5 foreground, the rest
   background, 128 per image at 25% foreground (the paper: 32 + 96 per minibatch).
2. :meth:`RCNN.fit_svms` on :meth:`RCNN.region_examples` (features of the fine-tuned CNN,
   in inference mode, over the training set): one binary SVM per class on fc7, positives the
   ground-truth boxes of the class only, negatives the regions under 0.3 IoU with every box
   of the class, with hard-negative mining; the loss is our ``MulticlassHinge`` on the scores
   ``(0, s_c)``, which is the paper's one-vs-rest binary hinge exactly (see
   :mod:`~yeehaw_tf.models.detection.rcnn_stages`).
3. :meth:`RCNN.fit_box_regressors` on the same examples: ridge regression of the R-CNN box
   coding (weights 1) of the regions at IoU >= 0.6 with a ground-truth box, per class on
   pool5, in closed form (``lambda = 1000`` in the paper; the bias not penalised).

Detection (:meth:`RCNN.detect`): per class ``sigmoid(svm score)`` (monotone: per-class NMS
ranks as the SVMs do; 0.5 is the SVM's boundary) and boxes decoded from each proposal by
``decode_detections``, then the shared post-processor.

Variants (registered in ``models/registry.py``): ``rcnn_alexnet`` (Krizhevsky's two-tower
AlexNet, the Caffe network of the paper, 227 warps, context 16) and ``rcnn`` (the small
backbone on 32 x 32 warps, context 2, fc 256, for 64 x 64 ``shapes`` on two CPU cores).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.layers import Dropout
from yeehaw_tf.models.classification.classic import alexnet
from yeehaw_tf.models.detection import rcnn_stages
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
    decode_detections,
    per_image_losses,
    roi_heads_loss,
    sample_rois,
)
from yeehaw_tf.ops.levels import BACKBONE, level_key, sorted_levels
from yeehaw_tf.ops.roi import roi_align

# --- the network ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RCNNConfig:
    """An R-CNN variant, as data; the defaults are the paper's."""

    warp_size: int = 227
    context_padding: int = 16
    representation: int = 4096
    dropout: float = 0.5
    roi_heads: RoIHeadsConfig = RoIHeadsConfig(
        batch_per_image=128, positive_fraction=0.25, box_weights=(1.0, 1.0, 1.0, 1.0)
    )
    svm_negative_iou: float = 0.3
    svm_l2: float = 1e-3
    svm_positive_weight: float = 2.0
    hard_threshold: float = -1.0
    easy_threshold: float = -1.2
    regression_iou: float = 0.6
    ridge: float = 1000.0

    def __post_init__(self):
        if not isinstance(self.warp_size, int) or self.warp_size < 8:
            raise ValueError(f"RCNNConfig: warp_size must be an int >= 8, got {self.warp_size!r}")
        if not 0 <= self.context_padding < self.warp_size / 2:
            raise ValueError(
                f"RCNNConfig: context_padding must be in [0, warp_size / 2 = "
                f"{self.warp_size / 2}), got {self.context_padding}"
            )
        if not self.easy_threshold <= self.hard_threshold:
            raise ValueError(
                f"RCNNConfig: need easy_threshold <= hard_threshold, got "
                f"{self.easy_threshold} > {self.hard_threshold}"
            )
        if not 0 <= self.svm_negative_iou <= 1 or not 0 <= self.regression_iou <= 1:
            raise ValueError("RCNNConfig: svm_negative_iou and regression_iou must be in [0, 1]")


def rcnn_parts(config: RCNNConfig, backbone: keras.Model, num_classes: int):
    """``(cnn, heads)``: warped crops -> ``{"pool5", "fc7"}`` (flattened) -> ``{"class_logits"
    [K, C + 1], "svm_scores" [K, C], "box_deltas" [K, C, 4]}``."""
    levels = sorted_levels(check_backbone(backbone, [], "rcnn"), BACKBONE, strict=False)
    if not levels:
        raise ValueError(f"rcnn: backbone {backbone.name!r} returns no 'C<l>' feature maps")
    last = level_key(levels[-1], BACKBONE)
    crops = keras.Input(backbone.input.shape[1:], name="crops")
    pool5 = keras.layers.Flatten(name="pool5")(backbone(crops)[last])
    x = pool5
    for name in ("fc6", "fc7"):
        x = keras.layers.Dense(config.representation, activation="relu", name=name)(x)
        x = Dropout(config.dropout, name=f"{name}_dropout")(x) if config.dropout else x
    cnn = keras.Model(crops, {"pool5": pool5, "fc7": x}, name="cnn")
    inputs = {
        "pool5": keras.Input(pool5.shape[1:], name="pool5"),
        "fc7": keras.Input(x.shape[1:], name="fc7"),
    }
    logits = keras.layers.Dense(
        num_classes + 1,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
        name="class_logits",
    )(inputs["fc7"])
    svm = keras.layers.Dense(num_classes, kernel_initializer="zeros", name="svm", trainable=False)
    regressor = keras.layers.Dense(
        4 * num_classes, kernel_initializer="zeros", name="box_regressor", trainable=False
    )
    deltas = keras.layers.Reshape((num_classes, 4), name="per_class_deltas")(
        regressor(inputs["pool5"])
    )
    outputs = {"class_logits": logits, "svm_scores": svm(inputs["fc7"]), "box_deltas": deltas}
    return cnn, keras.Model(inputs, outputs, name="heads")


def dilate(boxes, warp_size: int, context_padding: int):
    """Boxes widened about their centres so that, warped to ``warp_size``, ``context_padding``
    pixels of context surround the original box: sides times ``S / (S - 2 p)``."""
    scale = warp_size / (warp_size - 2.0 * context_padding)
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2.0
    half = (boxes[..., 2:] - boxes[..., :2]) * (scale / 2.0)
    return tf.concat([centre - half, centre + half], axis=-1)


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class RCNNNetwork(keras.Model):
    """See the module docstring. ``cnn`` and ``heads`` as :func:`rcnn_parts` makes them;
    ``config`` an :class:`RCNNConfig` (or its dict); ``image_shape`` ``(H, W, C)``.

    Called on ``{"images", "proposals"}`` it returns ``class_logits [B, R, C + 1]`` (the
    fine-tuning softmax), ``svm_scores [B, R, C]``, ``box_deltas [B, R, C + 1, 4]`` (row 0,
    background, zero), ``proposals`` and ``proposal_valid``."""

    def __init__(self, cnn, heads, config, image_shape=(64, 64, 3), **kwargs):
        super().__init__(**kwargs)
        self.cnn = cnn
        self.heads = heads
        if not isinstance(config, RCNNConfig):
            config = dict(config)
            roi = {
                k: tuple(v) if isinstance(v, list) else v for k, v in config["roi_heads"].items()
            }
            config = RCNNConfig(**{**config, "roi_heads": RoIHeadsConfig(**roi)})
        self.config = config
        self.image_shape = tuple(int(v) for v in image_shape)
        self.built = True  # every weight lives in the (built) functional parts

    @property
    def num_classes(self) -> int:
        return int(self.heads.output["svm_scores"].shape[-1])

    def warp(self, images, boxes) -> tf.Tensor:
        """``[B * S, warp, warp, 3]``: the dilated ``boxes [B, S, 4]`` bilinearly warped."""
        c = self.config
        rois = as_rois(dilate(tf.cast(boxes, tf.float32), c.warp_size, c.context_padding))
        return roi_align(tf.cast(images, tf.float32), rois, c.warp_size, 1.0, 1, True)

    def regions(self, images, boxes, training=False) -> dict:
        """Every per-region output of ``boxes [B, S, 4]``, shaped ``[B, S, ...]``, with the
        ``pool5`` and ``fc7`` features."""
        slots = boxes.shape[1]
        features = self.cnn(self.warp(images, boxes), training=training)
        out = {**features, **self.heads(features, training=training)}
        out["box_deltas"] = tf.pad(out["box_deltas"], [[0, 0], [1, 0], [0, 0]])  # background
        return {k: tf.reshape(v, [-1, slots, *v.shape[1:]]) for k, v in out.items()}

    def call(self, inputs, training=False):
        images, proposals = split_inputs(inputs, "RCNNNetwork")
        out = self.regions(images, proposals, training)
        return {
            **{k: out[k] for k in ("class_logits", "svm_scores", "box_deltas")},
            "proposals": proposals,
            "proposal_valid": tf.cast(proposal_valid(proposals), tf.float32),
        }

    def detections(self, outputs: dict, post_processor, scores: str = "svm") -> dict:
        """Call outputs -> detections; ``scores``: ``"svm"`` (the paper) or ``"softmax"``."""
        if scores not in ("svm", "softmax"):
            raise ValueError(f"scores must be 'svm' or 'softmax', got {scores!r}")
        h, w = self.image_shape[:2]
        valid = outputs["proposal_valid"]
        boxes, softmax = decode_detections(
            outputs["class_logits"],
            outputs["box_deltas"],
            outputs["proposals"],
            valid,
            self.config.roi_heads,
            h,
            w,
        )
        if scores == "svm":
            softmax = tf.sigmoid(outputs["svm_scores"]) * tf.cast(valid, tf.float32)[..., None]
        return post_processor(boxes, softmax, h, w)

    def get_config(self):
        return {
            **super().get_config(),
            "cnn": keras.saving.serialize_keras_object(self.cnn),
            "heads": keras.saving.serialize_keras_object(self.heads),
            "config": dataclasses.asdict(self.config),
            "image_shape": list(self.image_shape),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("cnn", "heads"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


# --- the family -------------------------------------------------------------------------------


class RCNN:
    """The R-CNN family. ``backbone(input_shape) -> keras.Model`` returning ``{"C<l>"}`` (its
    last level is pool5), built on ``(warp, warp, 3)`` crops."""

    loss_names = ("classification",)
    # proposals are a second input (selective search, outside the graph)
    takes_proposals = True
    # images per call when export runs the network: each proposal is a CNN pass (100 per
    # image); 256 images at once (25,600 warps) ran out of memory on a 24 GiB machine
    serving_batch_size = 16

    def __init__(self, config: RCNNConfig, backbone: Callable, name: str = "rcnn"):
        self.config = config
        self.backbone = backbone
        self.name = name

    def build(self, num_classes: int, input_shape: Sequence[int]) -> RCNNNetwork:
        check_num_classes(num_classes, self.name)
        s = self.config.warp_size
        cnn, heads = rcnn_parts(self.config, self.backbone((s, s, 3)), num_classes)
        return RCNNNetwork(cnn, heads, self.config, tuple(input_shape), name=self.name)

    def anchors(self, input_shape: Sequence[int]) -> tf.Tensor:
        return no_anchors()

    # ----------------------------------------------------------------------------- stage 1
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
        """Stage 1: the fine-tuning outputs of a batch (RoIs sampled from ``proposals [B, R,
        4]`` and the ground truth with ``random.uniform``), with ``"losses"``."""
        proposals = check_proposals(proposals, f"{self.name}.forward")
        if random is None:
            raise ValueError(f"{self.name}.forward needs random (a StepRandomness)")
        batch, candidates = tf.shape(gt_boxes)[0], proposals.shape[1] + gt_boxes.shape[1]
        noise = random.uniform(tf.stack([batch, candidates]), "roi_sample")
        sample = sample_rois(
            proposals,
            proposal_valid(proposals),
            gt_boxes,
            gt_classes,
            noise,
            self.config.roi_heads,
        )
        out = network.regions(images, sample["rois"], training)
        classification, _ = roi_heads_loss(
            out["class_logits"], out["box_deltas"], sample, self.config.roi_heads
        )
        return {
            "sample": sample,
            "class_logits": out["class_logits"],
            "images": images,
            "proposals": proposals,
            "losses": {"classification": classification},
        }

    def loss(self, outputs, gt_boxes, gt_classes, anchors):
        """``(total, {name: loss}, number of images)``, as Faster R-CNN's."""
        return per_image_losses(outputs["losses"], gt_boxes)

    # ----------------------------------------------------------------------------- stages 2, 3
    def region_examples(self, network, images, proposals, gt_boxes, gt_classes) -> dict:
        """The stage-2/3 examples of a batch, in NumPy (concatenate batches with
        ``rcnn_stages.merge_examples``): for every proposal and ground-truth box, its features
        ``fc7 [N, D7]`` and ``pool5 [N, D5]`` (inference mode), its SVM labels
        ``svm_positive``, ``svm_negative [N, C]`` and its regression example ``box_class
        [N]``, ``box_targets [N, 4]`` (:mod:`~yeehaw_tf.models.detection.rcnn_stages`)."""
        c, config = network.num_classes, self.config
        proposals = np.asarray(proposals, np.float32)
        gt_boxes, gt_classes = np.asarray(gt_boxes, np.float32), np.asarray(gt_classes)
        boxes = np.concatenate([proposals, gt_boxes], axis=1)
        out = network.regions(images, tf.constant(boxes), training=False)
        parts = []
        for i in range(len(boxes)):
            gt = gt_classes[i] >= 0
            g_boxes, g_classes = gt_boxes[i][gt], gt_classes[i][gt]
            valid = np.concatenate([proposal_valid(proposals[i]).numpy(), gt])
            classes = np.concatenate([np.full(proposals.shape[1], -1), gt_classes[i]])
            pos, neg = rcnn_stages.svm_labels(
                boxes[i], classes, g_boxes, g_classes, c, config.svm_negative_iou
            )
            box_class, targets = rcnn_stages.regression_examples(
                boxes[i], g_boxes, g_classes, config.regression_iou, config.roi_heads.box_weights
            )
            example = {
                "fc7": out["fc7"][i].numpy(),
                "pool5": out["pool5"][i].numpy(),
                "svm_positive": pos,
                "svm_negative": neg,
                "box_class": box_class,
                "box_targets": targets,
            }
            parts.append({k: v[valid] for k, v in example.items()})
        return rcnn_stages.merge_examples(parts)

    def fit_svms(self, network, examples: dict, rounds=4, steps=200, learning_rate=1e-2):
        """Stage 2: sets the network's SVMs (:func:`~.rcnn_stages.fit_svms`, the mining
        thresholds and regularisation of the config); returns the final negative cache."""
        c = self.config
        kernel, bias, cache = rcnn_stages.fit_svms(
            examples["fc7"],
            examples["svm_positive"],
            examples["svm_negative"],
            l2=c.svm_l2,
            positive_weight=c.svm_positive_weight,
            hard_threshold=c.hard_threshold,
            easy_threshold=c.easy_threshold,
            rounds=rounds,
            steps=steps,
            learning_rate=learning_rate,
        )
        network.heads.get_layer("svm").set_weights([kernel, bias])
        return cache

    def fit_box_regressors(self, network, examples: dict) -> None:
        """Stage 3: sets the network's box regressors
        (:func:`~.rcnn_stages.fit_ridge_regressors`)."""
        kernel, bias = rcnn_stages.fit_ridge_regressors(
            examples["pool5"],
            examples["box_class"],
            examples["box_targets"],
            network.num_classes,
            self.config.ridge,
        )
        network.heads.get_layer("box_regressor").set_weights([kernel, bias])

    def fit_stages(self, network, batches) -> dict:
        """Stages 2 and 3 on ``batches`` of ``(standardised images, proposals, gt_boxes,
        gt_classes)`` (pixels; e.g. the training set in inference mode): the region examples
        of every batch (:meth:`region_examples`; ``pool5`` is kept only for the regions a
        regressor learns from), then :meth:`fit_svms` and :meth:`fit_box_regressors`. Returns
        counts of what they were fitted on."""
        parts = []
        for images, proposals, gt_boxes, gt_classes in batches:
            example = self.region_examples(network, images, proposals, gt_boxes, gt_classes)
            regress = example["box_class"] >= 0
            for key in ("pool5", "box_class", "box_targets"):
                example[key] = example[key][regress]
            parts.append(example)
        if not parts:
            raise ValueError(f"{self.name}.fit_stages: no batches to fit the SVMs on")
        svm = {
            k: np.concatenate([p[k] for p in parts])
            for k in ("fc7", "svm_positive", "svm_negative")
        }
        regression = {
            k: np.concatenate([p[k] for p in parts]) for k in ("pool5", "box_class", "box_targets")
        }
        self.fit_svms(network, svm)
        self.fit_box_regressors(network, regression)
        return {
            "regions": len(svm["fc7"]),
            "svm_positives": int(svm["svm_positive"].sum()),
            "regression_regions": len(regression["pool5"]),
        }

    def stages_fitted(self, network) -> bool:
        """Whether stages 2 and 3 have set the SVMs (all zeros until then)."""
        kernel, _ = network.heads.get_layer("svm").get_weights()
        return bool(np.any(kernel != 0))

    # ----------------------------------------------------------------------------- inference
    def detect(self, network, outputs, post_processor, scores: str = "svm") -> dict:
        """Detections from the network's call outputs, or from :meth:`forward`'s (the
        proposals are then run through the network first)."""
        if "losses" in outputs:
            outputs = network({"images": outputs["images"], "proposals": outputs["proposals"]})
        return network.detections(outputs, post_processor, scores)


# --- variants ---------------------------------------------------------------------------------

# The small variant: 32 x 32 warps (objects of 8-21 pixels are upsampled, as the paper's are),
# context padding 16 * 32 / 227 ~ 2 pixels, the small backbone to C3 (4 x 4 x 128 = pool5),
# fc 256, 16 RoIs per image (4 foreground: the scenes hold at most three objects); no dropout
# (fine-tuning from scratch). 16 RoIs x 64 images = 1,024 warps per step, 0.45 s on 2 cores.
SMALL = RCNNConfig(
    warp_size=32,
    context_padding=2,
    representation=256,
    dropout=0.0,
    roi_heads=RoIHeadsConfig(
        batch_per_image=16, positive_fraction=0.25, box_weights=(1.0, 1.0, 1.0, 1.0)
    ),
    ridge=10.0,
)
ALEXNET = RCNNConfig()

INPUT_SHAPES = {"rcnn": (64, 64, 3), "rcnn_alexnet": (500, 500, 3)}


def _small_cnn(input_shape):
    return small_backbone(input_shape, widths=(32, 64, 128))


def _caffe_alexnet(input_shape):
    """Krizhevsky's two-tower AlexNet (grouped conv2, conv4, conv5): pool5 6 x 6 x 256 at 227."""
    return alexnet(input_shape=input_shape, two_tower=True, features=True)


def variants(features_of: Callable[[str], Callable] | None = None) -> dict:
    """The registered R-CNN variants. (``features_of`` is unused: the registry's ``alexnet``
    is torchvision's single-tower network; the paper's is built here.)"""
    return {
        "rcnn": lambda: RCNN(SMALL, _small_cnn, "rcnn"),
        "rcnn_alexnet": lambda: RCNN(ALEXNET, _caffe_alexnet, "rcnn_alexnet"),
    }
