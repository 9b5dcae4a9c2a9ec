"""The serving spec of a detector: uint8 images in; ``boxes`` (relative ``[ymin, xmin, ymax,
xmax]``), ``scores``, ``classes`` and ``num_detections`` out, decoding and NMS inside the graph
(:class:`~yeehaw_tf.models.detection.postprocess.PostProcessor`), so every exported file --
SavedModel and builtin-only TFLite -- is the whole detector.

Checks. The SavedModel and the float32 TFLite file must give the Keras model's detections: each
Keras detection (above the score threshold) is matched to the file's detection of the same class
with the highest IoU, which must be at least ``MATCH_IOU`` with a score within ``MATCH_SCORE``,
and the COCO AP must agree within ``MAX_EXACT_AP_DIFF``. (Detections are compared by matching,
not slot by slot: two detections whose scores tie within float rounding may swap places. Nor
must NMS break a tie the same way: when two boxes overlap enough to suppress each other (IoU
above the post-processor's NMS threshold, or within ``NMS_IOU_TOLERANCE`` of it, where float
rounding decides) and score within ``MATCH_SCORE`` of each other, either
may be kept; such a pair counts as a ``tie_swap``, not as a mismatch.) Every
format's COCO AP50 (our ``coco_map``, equal to pycocotools) may drop by at most
``MAX_AP50_DROP`` from the Keras value; AP is reported for every format (int8 loses some of its
localisation precision: AP75, not AP50).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.export.spec import OutputCheck, ServingSpec, image_input
from yeehaw_tf.metrics.detection_map import coco_map
from yeehaw_tf.models.detection.mask_head import paste_masks

MATCH_IOU = 0.99
MATCH_SCORE = 1e-4
# An IoU this close to the NMS threshold is one float rounding may put on either side of it
# (proposals in whole pixels make IoUs of exactly 0.5 common: [0, 0, 4, 6] and [0, 0, 8, 6]).
NMS_IOU_TOLERANCE = 1e-3
MAX_EXACT_AP_DIFF = 0.005
EXACT_FORMATS = ("saved_model", "float32")
MAX_AP50_DROP = 0.02  # absolute, every format (int8's budget)
# Op types the int8 file keeps in float32: the box decoding (EXP of the size deltas, the
# products with anchor sizes in pixels), the scores (LOGISTIC) and the post-processing
# arithmetic; the network's convolutions are int8. (Measured on shapes/64x64 RetinaNet: AP 0.866
# with them in float against 0.750 fully int8; AP50 0.991 either way, Keras 0.991.)
INT8_FLOAT_OPS = ("EXP", "LOGISTIC", "MUL", "DIV", "SUB", "MINIMUM", "MAXIMUM", "SOFTMAX")
# Further op types kept in float32 in the int8 file of a detector with RoI operations (the
# two-stage families and those fed proposals): every op that touches RoI coordinates, so none
# is quantised. An int8 coordinate (scale ~0.28 px for a 64 px image) wrecks the bilinear
# fractions and the sample masks of RoIAlign and the level of each RoI: the clamp
# `max(y, 0)` alone becomes an int8 RELU. Measured on the trained `rcnn` (shapes/64x64):
# int8 AP50 0.494 with INT8_FLOAT_OPS alone, 1.000 (AP 0.965; Keras 0.979) with these too
# (before ONE_HOT was added; tests/export/test_roi_int8.py checks RoIAlign alone).
ROI_INT8_FLOAT_OPS = (
    "ADD",
    "RELU",
    "STRIDED_SLICE",
    "CONCATENATION",
    "PACK",
    "UNPACK",
    "FLOOR",
    "CAST",
    "EXPAND_DIMS",
    "GATHER",
    "GATHER_ND",
    "SELECT_V2",
    "TILE",
    "RESHAPE",
    "TOPK_V2",
    # `one_hot` (EQUAL + CAST, fused to ONE_HOT): the pixel and image selections of
    # RoIAlign's matmul path; an int8 ONE_HOT dequantised to garbage (error 1e3 on 0/1 values)
    "ONE_HOT",
)


def _pair_iou(box, boxes):
    low, high = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod((high - low).clip(0), axis=1)
    area = lambda b: np.prod((b[..., 2:] - b[..., :2]).clip(0), axis=-1)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def match_detections(outputs, reference, score_floor: float, nms_iou: float | None = None) -> dict:
    """How well ``outputs`` reproduce ``reference`` (both serving outputs): over every
    reference detection scoring above ``score_floor`` (and clear of a full list's last score,
    which a tie may push out), the lowest IoU with the best same-class detection of
    ``outputs``, the largest score difference to it, and how many found none.

    With ``nms_iou`` (the NMS threshold both were made with), a best match below ``MATCH_IOU``
    that overlaps the reference box by more than ``nms_iou - NMS_IOU_TOLERANCE`` with a score
    within
    ``MATCH_SCORE`` is the other side of an NMS tie (either box suppresses the other): it is
    counted in ``tie_swaps`` and left out of ``matched_min_iou``."""
    worst_iou, worst_score, unmatched, swaps = 1.0, 0.0, 0, 0
    for i, count in enumerate(reference["num_detections"]):
        count = int(count)
        scores = reference["scores"][i, :count]
        floor = score_floor
        if count == reference["scores"].shape[1] and count:
            floor = max(floor, float(scores[-1]) + MATCH_SCORE)
        found = int(outputs["num_detections"][i])
        boxes, classes = outputs["boxes"][i, :found], outputs["classes"][i, :found]
        for j in np.nonzero(scores > floor)[0]:
            same = np.nonzero(classes == reference["classes"][i, j])[0]
            if not len(same):
                unmatched += 1
                continue
            overlaps = _pair_iou(reference["boxes"][i, j], boxes[same])
            best = same[int(np.argmax(overlaps))]
            iou = float(overlaps.max())
            difference = abs(float(outputs["scores"][i, best] - scores[j]))
            worst_score = max(worst_score, difference)
            tie = (
                nms_iou is not None
                and nms_iou - NMS_IOU_TOLERANCE < iou < MATCH_IOU
                and difference <= MATCH_SCORE
            )
            if tie:
                swaps += 1
            else:
                worst_iou = min(worst_iou, iou)
    return {
        "matched_min_iou": worst_iou,
        "matched_max_score_diff": worst_score,
        "unmatched": unmatched,
        "tie_swaps": swaps,
    }


def detections_to_pixels(outputs: Mapping[str, np.ndarray], height: int, width: int) -> list:
    """Per image ``{"boxes": xyxy pixels, "scores", "classes"}`` of the valid detections."""
    scale = np.array([height, width, height, width], np.float64)
    result = []
    for boxes, scores, classes, count in zip(
        outputs["boxes"],
        outputs["scores"],
        outputs["classes"],
        outputs["num_detections"],
        strict=True,
    ):
        yxyx = boxes[: int(count)].astype(np.float64) * scale
        result.append(
            {
                "boxes": yxyx[:, [1, 0, 3, 2]],
                "scores": scores[: int(count)],
                "classes": classes[: int(count)],
            }
        )
    return result


def ground_truth_to_pixels(boxes: np.ndarray, classes: np.ndarray, height: int, width: int):
    """Per image ``{"boxes": xyxy pixels, "classes"}`` from padded relative yxyx boxes."""
    scale = np.array([height, width, height, width], np.float64)
    return [
        {"boxes": (b[c >= 0].astype(np.float64) * scale)[:, [1, 0, 3, 2]], "classes": c[c >= 0]}
        for b, c in zip(boxes, classes, strict=True)
    ]


def ground_truth_masks(masks: np.ndarray, classes: np.ndarray) -> list:
    """Per image the ``[n, H, W]`` masks of the valid (class >= 0) ground-truth objects."""
    return [m[c >= 0].astype(bool) for m, c in zip(masks, classes, strict=True)]


def pasted_masks(outputs: Mapping[str, np.ndarray], height: int, width: int) -> list:
    """Per image the ``[n, H, W]`` binary masks of the valid detections: each ``masks``
    entry (box coordinates) pasted into the image at its box."""
    found = detections_to_pixels(outputs, height, width)
    return [
        paste_masks(
            np.asarray(masks[: len(entry["boxes"])], np.float32), entry["boxes"], height, width
        )
        for masks, entry in zip(outputs["masks"], found, strict=True)
    ]


def with_masks(entries: list, masks: list) -> list:
    """``entries`` (per image dicts) with their ``masks`` added."""
    return [{**entry, "masks": m} for entry, m in zip(entries, masks, strict=True)]


def detection_spec(
    model: keras.Model,
    serve: Callable[..., Mapping],
    *,
    images: np.ndarray,
    gt_boxes: np.ndarray,
    gt_classes: np.ndarray,
    representative_images: np.ndarray,
    class_ids: Sequence[int],
    score_floor: float = 0.05,
    nms_iou: float | None = None,
    metadata: Mapping | None = None,
    gt_masks: np.ndarray | None = None,
    proposals: np.ndarray | None = None,
    representative_proposals: np.ndarray | None = None,
    batch_size: int = 256,
    int8_float_ops: Sequence[str] = INT8_FLOAT_OPS,
) -> ServingSpec:
    """The spec of a detector whose ``serve(images uint8)`` returns the four outputs (or
    ``serve(images, proposals)`` with ``proposals``).

    Args:
        images: uint8 evaluation images ``[N, H, W, 3]``.
        gt_boxes, gt_classes: their padded ground truth (relative yxyx, class -1 = padding).
        representative_images: uint8 training images to calibrate int8.
        class_ids: the dataset's classes (COCO's category set).
        score_floor: the post-processor's score threshold (detections just above it may come
            and go between formats and are not matched).
        nms_iou: the post-processor's NMS IoU threshold: two boxes overlapping by more, with
            scores within ``MATCH_SCORE``, are a tie either may win (see the module doc).
        gt_masks: ``[N, M, H, W]`` instance masks of the ground truth, for detectors that
            also serve ``masks`` (Mask R-CNN): mask AP is then scored and checked too.
        proposals: ``float32 [N, R, 4]`` xyxy pixel region proposals of ``images``, for the
            detectors that take them as a second input (R-CNN, Fast R-CNN); the signature
            then has a ``proposals`` input, and ``representative_proposals`` (those of
            ``representative_images``) calibrate int8 with them.
        batch_size: images per call when export runs the models on ``images``.
        int8_float_ops: op types the int8 file keeps in float32 (``INT8_FLOAT_OPS``; a
            detector with RoI operations adds ``ROI_INT8_FLOAT_OPS``).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 [N, H, W, C], got {images.dtype} {images.shape}")
    height, width = images.shape[1:3]
    truth = ground_truth_to_pixels(np.asarray(gt_boxes), np.asarray(gt_classes), height, width)
    if len(truth) != len(images):
        raise ValueError(f"{len(truth)} ground-truth entries for {len(images)} images")

    truth_masks = None
    if gt_masks is not None:
        truth_masks = with_masks(truth, ground_truth_masks(np.asarray(gt_masks), gt_classes))

    inputs, examples = image_input(images.shape[1:]), {"images": images}
    representative = {"images": np.asarray(representative_images)}
    if proposals is not None:
        proposals = np.asarray(proposals, np.float32)
        if proposals.ndim != 3 or proposals.shape[0] != len(images) or proposals.shape[2] != 4:
            raise ValueError(
                f"proposals must be float32 [{len(images)}, R, 4] (one row per image), got "
                f"{proposals.shape}"
            )
        if representative_proposals is None:
            raise ValueError("proposals need representative_proposals (for int8 calibration)")
        inputs["proposals"] = tf.TensorSpec(
            [None, *proposals.shape[1:]], tf.float32, name="proposals"
        )
        examples["proposals"] = proposals
        representative["proposals"] = np.asarray(representative_proposals, np.float32)

    def score(outputs):
        found = detections_to_pixels(outputs, height, width)
        result = coco_map(truth, found, list(class_ids))
        scores = {"AP": float(result["AP"]), "AP50": float(result["AP50"])}
        if truth_masks is not None:
            found = with_masks(found, pasted_masks(outputs, height, width))
            segm = coco_map(truth_masks, found, list(class_ids), iou_type="segm")
            scores.update(mask_AP=float(segm["AP"]), mask_AP50=float(segm["AP50"]))
        return scores

    keras_ap = {}

    def compare(format_name, outputs, reference):
        entries = match_detections(outputs, reference, score_floor + 1e-3, nms_iou)
        if format_name not in EXACT_FORMATS:
            return entries, True
        if not keras_ap:
            keras_ap["AP"] = score(reference)["AP"]
        entries["AP_diff"] = abs(score(outputs)["AP"] - keras_ap["AP"])
        ok = (
            entries["unmatched"] == 0
            and entries["matched_min_iou"] >= MATCH_IOU
            and entries["matched_max_score_diff"] <= MATCH_SCORE
            and entries["AP_diff"] <= MAX_EXACT_AP_DIFF
        )
        return entries, ok

    def consistent(outputs):
        count = outputs["num_detections"]
        slots = np.arange(outputs["scores"].shape[1])[None, :]
        padded = slots >= count[:, None]
        return bool(
            np.all(outputs["scores"][padded] == 0)
            and np.all(np.diff(outputs["scores"], axis=1)[~padded[:, 1:]] <= 1e-6)
        )

    return ServingSpec(
        model=model,
        inputs=inputs,
        serve=serve,
        examples=examples,
        representative=representative,
        # element-wise differences are reported (slot order may differ on ties); the matching
        # in `compare` decides
        checks={"scores": OutputCheck({}), "boxes": OutputCheck({})},
        score=score,
        max_drop={
            "AP50": MAX_AP50_DROP,
            **({} if gt_masks is None else {"mask_AP50": MAX_AP50_DROP}),
        },
        consistent=consistent,
        primary="scores",
        compare=compare,
        int8_float_ops=tuple(int8_float_ops),
        metadata=dict(metadata or {}),
        batch_size=batch_size,
    )
