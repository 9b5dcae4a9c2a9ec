"""Object detection: a detector family from the registry (RetinaNet, ...) trained on padded box
targets, evaluated with COCO mAP on the detections gathered from every replica, and exported end
to end (decoding and NMS inside the graph)."""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.data.augmentation import policy_names, validate_policy
from yeehaw_tf.data.datasets import default_data_dir
from yeehaw_tf.data.detection import MAX_BOXES, detection_pipeline, load_detection
from yeehaw_tf.data.pipeline import resize_images
from yeehaw_tf.data.proposals import split_proposals, with_proposals
from yeehaw_tf.export.detection import (
    INT8_FLOAT_OPS,
    ROI_INT8_FLOAT_OPS,
    detection_spec,
    detections_to_pixels,
    ground_truth_masks,
    ground_truth_to_pixels,
    pasted_masks,
    with_masks,
)
from yeehaw_tf.layers import ChannelStandardization
from yeehaw_tf.metrics.detection_map import coco_map, voc_map
from yeehaw_tf.models.detection.postprocess import PostProcessor
from yeehaw_tf.models.detection.proposal_inputs import proposal_valid
from yeehaw_tf.models.registry import detector_names, get_detector
from yeehaw_tf.ops.boxes import convert_boxes
from yeehaw_tf.ops.selective_search import MODES, proposal_recall
from yeehaw_tf.training.tasks.base import LossOutput, TaskData, TaskOptions
from yeehaw_tf.training.tasks.images import ImageTask, check_splits, statistics
from yeehaw_tf.training.tasks.options import check_choice, check_image_size, option

NUM_REPRESENTATIVE = 128
NUM_PICTURES = 6


@dataclasses.dataclass(frozen=True)
class DetectionOptions(TaskOptions):
    """Options of the detection task (validated on construction)."""

    model: str = option("retinanet_small", "Detector to train.", detector_names)
    dataset: str = option("shapes", "Detection dataset (objects with bbox and label).")
    epochs: int = option(16, "Epochs to train when --train_steps is not set.")
    image_size: tuple[int, int] | None = option(
        None, "height,width to resize images to; needed for datasets whose images differ in size."
    )
    max_boxes: int = option(MAX_BOXES, "Ground-truth boxes kept per image (padding size).")
    score_threshold: float = option(0.05, "Detections scoring at or below this are dropped.")
    nms_iou: float = option(0.5, "IoU above which NMS suppresses a box of the same class.")
    max_detections: int = option(100, "Detections kept per image after NMS.")
    flip: bool = option(True, "Mirror training images (and boxes) with probability 1/2.")
    augment: str = option(
        "none",
        "Training augmentation policy, box- and mask-aware (boxes transformed, clipped, dropped "
        "with their classes and masks when they leave the image); after --flip's mirror unless "
        "the policy flips itself; never in exports.",
        lambda: policy_names("detection"),
    )

    proposals: int = option(
        100,
        "Selective-search proposals per image, for the detectors that take them as a second "
        "input (rcnn, fast_rcnn): searched once per split and cached under the data dir.",
    )
    proposal_mode: str = option("fast", "Selective-search preset (rcnn, fast_rcnn).", MODES)
    stage_images: int = option(
        500,
        "Training images whose regions R-CNN's SVMs and box regressors are fitted on after "
        "the CNN's fine-tuning (rcnn only; the first ones of the training split).",
    )

    def __post_init__(self):
        validate_policy("detection", self.augment)
        check_choice("detector", self.model, detector_names)
        check_choice("proposal_mode", self.proposal_mode, MODES)
        for name in ("proposals", "stage_images"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if _takes_proposals(self.model) and self.augment != "none":
            raise ValueError(
                f"augment={self.augment!r} cannot be used with {self.model!r}: its region "
                "proposals are searched once per image and would not follow the policy's "
                "geometry; use --augment=none (--flip mirrors the proposals too)"
            )
        check_image_size(self.image_size)
        if not isinstance(self.max_boxes, int) or self.max_boxes < 1:
            raise ValueError(f"max_boxes must be a positive integer, got {self.max_boxes!r}")
        if not 0 <= self.score_threshold < 1:
            raise ValueError(f"score_threshold must be in [0, 1), got {self.score_threshold}")
        self.post_processor()

    def post_processor(self) -> PostProcessor:
        return PostProcessor(self.score_threshold, self.nms_iou, self.max_detections)


def _uses_masks(model: str) -> bool:
    return bool(getattr(get_detector(model), "uses_masks", False))


def _takes_proposals(model: str) -> bool:
    return bool(getattr(get_detector(model), "takes_proposals", False))


class DetectionTask(ImageTask):
    """What the Trainer needs for detection.

    The model takes float pixels (0..255) ``input_shape``, standardises them and returns the
    family's raw outputs (RetinaNet: ``class_logits [B, N, C]``, ``box_deltas [B, N, 4]``).
    Batches are ``(images, {"boxes": [B, M, 4] relative yxyx, "classes": [B, M]})`` padded with
    class -1 (and ``"masks": [B, M, H, W]`` for families with ``uses_masks``). ``num_classes``
    counts object classes (no background).

    Two-stage families (those with ``forward`` and ``detect``, see
    :mod:`yeehaw_tf.models.detection`) get their network and the standardised images: their
    training outputs depend on the ground truth (RoI sampling), and their detections run the
    second stage on the proposals.

    Families that take region proposals as a second input (``takes_proposals``: R-CNN, Fast
    R-CNN) get selective search's, computed once per split (:mod:`yeehaw_tf.data.proposals`)
    and carried by the batches as ``"proposals"`` (relative yxyx, mirrored with the image);
    their serving signature takes ``proposals`` float32 ``[batch, R, 4]`` xyxy pixels besides
    the images (selective search is NumPy, outside the graph). A family with ``fit_stages``
    (R-CNN's SVMs and box regressors) fits them after the last step (:meth:`finish_training`).
    """

    name = "detection"
    Options = DetectionOptions

    @classmethod
    def default_warmup_steps(cls, total_steps: int) -> int:
        """A tenth of the run warms the learning rate up (Detectron's RetinaNet recipe warms up
        too). Without it the default run (``retinanet_small``, Adam 3e-3, 992 steps) lost its
        classification subnet within 150 steps (its loss stuck at 0.646, test AP 0.0005),
        while the box subnet went on learning; with 100 warm-up steps it trains normally."""
        return total_steps // 10

    def __init__(self, options, **kwargs):
        super().__init__(options, **kwargs)
        self.family = get_detector(options.model)
        self.post_processor = options.post_processor()
        self.anchors = self.family.anchors(self.input_shape)

    # ----------------------------------------------------------------------------- data
    @classmethod
    def load_data(cls, options: DetectionOptions, data_dir: str | None) -> TaskData:
        data = load_detection(options.dataset, data_dir, masks=_uses_masks(options.model))
        size = tuple(options.image_size or data.image_shape[:2])
        if None in size:
            raise ValueError(
                f"dataset {options.dataset!r} has images of different sizes: choose one with "
                "--image_size"
            )
        check_splits(options.dataset, data_dir, data.num_train, data.num_test)
        info = {"class_names": data.class_names, "image_shape": (*size, data.image_shape[-1])}
        train, test = data.train, data.test
        if _takes_proposals(options.model):
            search = {
                "name": options.dataset,
                "count": options.proposals,
                "mode": options.proposal_mode,
                "cache_dir": data_dir or default_data_dir(),
            }
            train = with_proposals(train, split_proposals(train, split="train", **search))
            test = with_proposals(test, split_proposals(test, split="test", **search))
        return TaskData(data.name, train, test, data.num_train, data.num_test, info)

    @classmethod
    def from_data(cls, options: DetectionOptions, data: TaskData) -> DetectionTask:
        size = options.image_size
        mean, std = statistics(
            data.train.map(lambda image, _: resize_images(image, size) if size else image)
        )
        return cls(
            options,
            num_classes=len(data.info["class_names"]),
            input_shape=data.info["image_shape"],
            mean=mean,
            std=std,
            class_names=data.info["class_names"],
        )

    def _pipeline(self, dataset, batch_size, training, seed=0, cache=True):
        o = self.options
        return detection_pipeline(
            dataset,
            batch_size=batch_size,
            training=training,
            image_size=o.image_size,
            max_boxes=o.max_boxes,
            flip=o.flip,
            seed=seed,
            augment=o.augment,
            cache=cache,
        )

    def train_dataset(self, data: TaskData, batch_size: int, seed: int):
        return self._pipeline(data.train, batch_size, True, seed)

    def eval_dataset(self, data: TaskData, batch_size: int):
        return self._pipeline(data.test, batch_size, False)

    # ----------------------------------------------------------------------------- models
    def build_model(self) -> keras.Model:
        inputs = keras.Input(self.input_shape, name="images")
        x = ChannelStandardization(self.mean, self.std, name="standardize")(inputs)
        network = self.family.build(self.num_classes, self.input_shape)
        name = f"{self.options.model}_detector"
        if self.takes_proposals:
            proposals = keras.Input((self.options.proposals, 4), name="proposals")
            outputs = network({"images": x, "proposals": proposals})
            return keras.Model({"images": inputs, "proposals": proposals}, outputs, name=name)
        return keras.Model(inputs, network(x), name=name)

    def build_models(self) -> dict[str, keras.Model]:
        return {"model": self.build_model()}

    def loss_names(self) -> tuple[str, ...]:
        return tuple(self.family.loss_names)

    def _gt_pixels(self, targets):
        height, width = self.input_shape[:2]
        boxes = convert_boxes(targets["boxes"], "rel_yxyx", "xyxy", height, width)
        return boxes, targets["classes"]

    @property
    def takes_proposals(self) -> bool:
        return bool(getattr(self.family, "takes_proposals", False))

    def _proposal_pixels(self, targets):
        """The batch's proposals as the network takes them: xyxy pixels (zero rows stay
        zero-area padding)."""
        height, width = self.input_shape[:2]
        return convert_boxes(targets["proposals"], "rel_yxyx", "xyxy", height, width)

    @property
    def two_stage(self) -> bool:
        return hasattr(self.family, "forward")

    def _parts(self, model: keras.Model):
        """``(standardize layer, family network)`` of the model :meth:`build_model` made."""
        return model.get_layer("standardize"), model.get_layer(self.family.name)

    def compute_loss(self, models, batch, training: bool, ctx) -> LossOutput:
        images, targets = batch
        boxes, classes = self._gt_pixels(targets)
        if self.two_stage:
            standardize, network = self._parts(models["model"])
            extra = {"proposals": self._proposal_pixels(targets)} if self.takes_proposals else {}
            outputs = self.family.forward(
                network,
                standardize(tf.cast(images, tf.float32)),
                boxes,
                classes,
                targets.get("masks"),
                ctx.random,
                training,
                **extra,
            )
            if not training:  # evaluation: the detections, from the same feature maps
                outputs["detections"] = self.family.detect(network, outputs, self.post_processor)
        else:
            outputs = models["model"](images, training=training)
        total, components, positives = self.family.loss(outputs, boxes, classes, self.anchors)
        return LossOutput(total, components, outputs, normalizer=positives)

    def update_metrics(self, metrics, batch, outputs) -> None:
        pass  # COCO mAP is computed on the gathered detections

    def finish_training(self, models, data: TaskData) -> bool:
        """R-CNN's stages 2 and 3 (``family.fit_stages``): its SVMs and box regressors fitted
        on the regions of the first ``stage_images`` training images, in inference mode
        (unmirrored), with the fine-tuned CNN."""
        fit_stages = getattr(self.family, "fit_stages", None)
        if fit_stages is None:
            return False
        standardize, network = self._parts(models["model"])
        batches = (
            (
                standardize(tf.cast(images, tf.float32)),
                self._proposal_pixels(targets),
                *self._gt_pixels(targets),
            )
            for images, targets in self._pipeline(
                data.train.take(self.options.stage_images), 64, False, cache=False
            )
        )
        fit_stages(network, batches)
        return True

    # ----------------------------------------------------------------------------- evaluation
    def detect(self, outputs) -> dict:
        """Raw outputs -> the post-processed detections (the serving outputs)."""
        boxes, scores = self.family.decode(outputs, self.anchors)
        height, width = self.input_shape[:2]
        return self.post_processor(boxes, scores, height, width)

    def gather_outputs(self, batch, outputs) -> dict:
        detections = dict(outputs["detections"] if self.two_stage else self.detect(outputs))
        gathered = {"gt_boxes": batch[1]["boxes"], "gt_classes": batch[1]["classes"]}
        if self.takes_proposals:
            gathered["proposals"] = batch[1]["proposals"]
        if "masks" in detections:
            detections["masks"] = tf.cast(detections["masks"], tf.float16)  # memory
            gathered["gt_masks"] = batch[1]["masks"]
        return {**detections, **gathered}

    def evaluate_gathered(self, gathered) -> dict:
        height, width = self.input_shape[:2]
        truth = ground_truth_to_pixels(gathered["gt_boxes"], gathered["gt_classes"], height, width)
        found = detections_to_pixels(gathered, height, width)
        classes = list(range(self.num_classes))
        coco = coco_map(truth, found, classes)
        voc = voc_map(truth, found, class_ids=classes)
        result = {key: float(coco[key]) for key in ("AP", "AP50", "AP75", "APs", "APm", "APl")}
        result["VOC_AP50"] = float(voc["mAP"])
        if "proposals" in gathered:  # the share of objects some proposal finds (IoU >= 0.5)
            pixels = self._proposal_pixels(gathered).numpy()
            valid = proposal_valid(pixels).numpy()
            proposals = [p[v] for p, v in zip(pixels, valid, strict=True)]
            result["proposal_recall50"] = proposal_recall(
                proposals, [entry["boxes"] for entry in truth], 0.5
            )
        if "masks" in gathered:
            gt_masks = ground_truth_masks(gathered["gt_masks"], gathered["gt_classes"])
            segm = coco_map(
                with_masks(truth, gt_masks),
                with_masks(found, pasted_masks(gathered, height, width)),
                classes,
                iou_type="segm",
            )
            for key in ("AP", "AP50", "AP75"):
                result[f"mask_{key}"] = float(segm[key])
        for class_id, value in coco["per_class"].items():
            name = self.class_names[class_id] if self.class_names else str(class_id)
            result[f"AP/{name}"] = float(value)
        return result

    # ----------------------------------------------------------------------------- results
    def serve(self, model: keras.Model):
        if self.takes_proposals:
            standardize, network = self._parts(model)

            def serve_proposals(images, proposals):
                x = standardize(tf.cast(images, tf.float32))
                outputs = network({"images": x, "proposals": proposals}, training=False)
                return self.family.detect(network, outputs, self.post_processor)

            return serve_proposals
        if self.two_stage:
            standardize, network = self._parts(model)

            def serve(images):
                x = standardize(tf.cast(images, tf.float32))
                features = network.features(x, training=False)
                return self.family.detect(network, features, self.post_processor)

            return serve

        def serve(images):
            return self.detect(model(tf.cast(images, tf.float32), training=False))

        return serve

    def _arrays(self, dataset, limit=None) -> dict:
        """``{"images": uint8, "boxes", "classes"[, "masks"][, "proposals" (xyxy pixels)]}``
        of the first ``limit`` examples (all without a limit)."""
        dataset = self._pipeline(dataset, 64, False)
        parts = {}
        for image, target in dataset.as_numpy_iterator():
            target = {**target, "images": np.clip(np.round(image), 0, 255).astype(np.uint8)}
            for key, value in target.items():
                parts.setdefault(key, []).append(value)
            if limit is not None and sum(len(i) for i in parts["images"]) >= limit:
                break
        arrays = {key: np.concatenate(value)[:limit] for key, value in parts.items()}
        if "proposals" in arrays:
            arrays["proposals"] = self._proposal_pixels(arrays).numpy()
        return arrays

    def int8_float_ops(self) -> tuple[str, ...]:
        """Op types the int8 file keeps in float32: the detectors' list, and every op touching
        RoI coordinates for the families with RoI operations
        (:data:`~yeehaw_tf.export.detection.ROI_INT8_FLOAT_OPS`)."""
        return INT8_FLOAT_OPS + (ROI_INT8_FLOAT_OPS if self.two_stage else ())

    def _proposal_metadata(self) -> dict:
        """What ``predict`` needs to make the proposals input itself."""
        if not self.takes_proposals:
            return {}
        o = self.options
        return {
            "proposals": {
                "method": "selective_search",
                "mode": o.proposal_mode,
                "count": o.proposals,
                "box_format": "xyxy_pixels",
            }
        }

    def _serving_inputs(self, arrays: dict) -> dict:
        """The serving function's inputs from :meth:`_arrays`."""
        keys = ("images", "proposals") if self.takes_proposals else ("images",)
        return {key: arrays[key] for key in keys}

    def serving_spec(self, model: keras.Model, data: TaskData):
        fitted = getattr(self.family, "stages_fitted", None)
        if fitted is not None and not fitted(self._parts(model)[1]):
            raise ValueError(
                f"{self.options.model}'s SVMs and box regressors are not fitted yet (the run "
                "stopped after its last step, before they were): run train.py again with the "
                "same --workdir, which fits them and saves the checkpoint, then export"
            )
        test = self._arrays(data.test)
        images, boxes, classes = test["images"], test["boxes"], test["classes"]
        representative = self._arrays(data.train, NUM_REPRESENTATIVE)
        return detection_spec(
            model,
            self.serve(model),
            images=images,
            proposals=test.get("proposals"),
            representative_proposals=representative.get("proposals"),
            gt_boxes=boxes,
            gt_classes=classes,
            representative_images=representative["images"],
            class_ids=list(range(self.num_classes)),
            score_floor=self.post_processor.score_threshold,
            nms_iou=self.post_processor.iou_threshold,
            metadata={
                "task": self.name,
                "class_names": list(self.class_names),
                "box_format": "rel_yxyx",
                **self._proposal_metadata(),
            },
            gt_masks=test.get("masks"),
            batch_size=getattr(self.family, "serving_batch_size", 256),
            int8_float_ops=self.int8_float_ops(),
        )

    def summary_rows(self, evaluation) -> list[tuple[str, str]]:
        rows = [
            (f"test {key}", f"{evaluation[key]:.4f}")
            for key in (
                "AP",
                "AP50",
                "AP75",
                "VOC_AP50",
                "mask_AP",
                "mask_AP50",
                "mask_AP75",
                "proposal_recall50",
            )
            if key in evaluation
        ]
        rows += [
            (f"test {key}", f"{value:.4f}")
            for key, value in evaluation.items()
            if key.startswith("AP/")
        ]
        return [*rows, *super().summary_rows(evaluation)]

    def write_artifacts(self, model: keras.Model, data: TaskData, workdir: str) -> dict:
        """``workdir/detections.png``: the first test images with their detections."""
        from yeehaw_tf.analysis.plots import plot_detections

        test = self._arrays(data.test, NUM_PICTURES)
        images = test["images"]
        served = self.serve(model)(**self._serving_inputs(test))
        outputs = {k: np.asarray(v) for k, v in served.items()}
        height, width = self.input_shape[:2]
        found = detections_to_pixels(outputs, height, width)
        if "masks" in outputs:
            found = with_masks(found, pasted_masks(outputs, height, width))
        path = os.path.join(workdir, "detections.png")
        return {
            "detections": plot_detections(
                path,
                images,
                ground_truth_to_pixels(test["boxes"], test["classes"], height, width),
                found,
                self.class_names,
            )
        }
