"""Detection mean average precision: COCO style (equal to ``pycocotools``) and PASCAL VOC style.

Inputs are two lists with one dict per image, in the same order. Ground truth: ``boxes``
``[N, 4]`` absolute ``xyxy``, ``classes`` ``[N]`` (integer ids >= 0) and optionally ``iscrowd``
and ``area`` (COCO) or ``difficult`` (VOC). Detections: ``boxes``, ``classes`` and ``scores``.
For instance masks (``coco_map(..., iou_type="segm")``) both also carry ``masks``: ``[N, H, W]``
binary (bool or 0/1), one per row, ``[0, H, W]`` for an image without any, the same ``H, W``
in the ground truth and the detections of one image; ``boxes`` may then be left out (they
default to the masks' pixel extents). Anything ``np.asarray`` accepts (lists, NumPy, eager
tensors) will do; everything is evaluated in float64 NumPy, eagerly: this is evaluation code,
not a graph op.

Category set (both styles): the ``class_ids`` argument if given, otherwise every class that has
a ground-truth box, the way ``COCOeval`` evaluates the ``categories`` of the ground-truth file.
Detections of other classes are ignored. A class with no (non-ignored) ground truth gets AP
``-1`` and is left out of the means, as ``pycocotools`` does; a mean with nothing to average is
``-1`` too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.metrics.masks import check_masks, mask_area, mask_boxes, mask_iou
from yeehaw_tf.ops.boxes import iou

IOU_TYPES = ("bbox", "segm")  # COCOeval's iouType values that coco_map supports

# COCOeval's defaults (``Params.setDetParams``), computed the same way.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1)
COCO_AREA_RANGES = ((0.0, 1e5**2), (0.0, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
COCO_MAX_DETECTIONS = (1, 10, 100)

# (key, AP or AR, IoU threshold or None for 0.50:0.95, area index, maxDets index): the order
# and meaning of ``COCOeval.stats``.
_COCO_SUMMARY = (
    ("AP", True, None, 0, 2),
    ("AP50", True, 0.5, 0, 2),
    ("AP75", True, 0.75, 0, 2),
    ("APs", True, None, 1, 2),
    ("APm", True, None, 2, 2),
    ("APl", True, None, 3, 2),
    ("AR1", False, None, 0, 0),
    ("AR10", False, None, 0, 1),
    ("AR100", False, None, 0, 2),
    ("ARs", False, None, 1, 2),
    ("ARm", False, None, 2, 2),
    ("ARl", False, None, 3, 2),
)
COCO_SUMMARY_KEYS = tuple(row[0] for row in _COCO_SUMMARY)


# ---------------------------------------------------------------------------------------------
# Input checking


def _column(entry: Mapping, key: str, where: str, n: int | None, dtype) -> np.ndarray:
    try:
        value = np.asarray(entry[key], dtype=dtype)
    except KeyError:
        raise ValueError(f"{where} is missing {key!r}") from None
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}[{key!r}] must be numeric: {error}") from None
    if value.size == 0:
        value = value.reshape(0)
    if value.ndim != 1 or (n is not None and len(value) != n):
        raise ValueError(
            f"{where}[{key!r}] must have shape [{n}] (one per instance); got {value.shape}"
        )
    return value


def _check_iou_type(iou_type: str) -> str:
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES} (boxes, masks); got {iou_type!r}")
    return iou_type


def _check_image(entry, where: str, detection: bool, iou_type: str) -> dict:
    keys = "'masks' and 'classes'" if iou_type == "segm" else "'boxes' and 'classes'"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a dict with {keys}; got {type(entry)}")
    masks = None
    if iou_type == "segm":
        if "masks" not in entry:
            raise ValueError(f"{where} is missing 'masks' ([N, H, W] binary; iou_type='segm')")
        masks = check_masks(entry["masks"], f"{where}['masks']")
    elif "boxes" not in entry:
        raise ValueError(f"{where} is missing 'boxes'")
    boxes = np.asarray(entry["boxes"] if "boxes" in entry else mask_boxes(masks), np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{where}['boxes'] must have shape [N, 4] (xyxy); got {boxes.shape}")
    if not np.all(np.isfinite(boxes)):
        raise ValueError(f"{where}['boxes'] must be finite")
    bad = np.flatnonzero((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))
    if len(bad):
        raise ValueError(
            f"{where}['boxes'][{bad[0]}] = {boxes[bad[0]].tolist()} has a negative size "
            "(x2 < x1 or y2 < y1); boxes must be absolute xyxy"
        )
    n = len(boxes)
    if masks is not None and len(masks) != n:
        raise ValueError(f"{where}['masks'] holds {len(masks)} masks for {n} boxes")
    classes = _column(entry, "classes", where, n, np.float64)
    if np.any(classes != np.round(classes)) or np.any(classes < 0):
        raise ValueError(
            f"{where}['classes'] must be integer ids >= 0 (drop padding rows with class -1)"
        )
    wh = boxes[:, 2:] - boxes[:, :2]
    area = wh[:, 0] * wh[:, 1] if masks is None else mask_area(masks)
    out = {"boxes": boxes, "classes": classes.astype(np.int64), "area": area}
    if masks is not None:
        out["masks"] = masks
    if detection:
        out["scores"] = _column(entry, "scores", where, n, np.float64)
        if not np.all(np.isfinite(out["scores"])):
            raise ValueError(f"{where}['scores'] must be finite (no NaN or inf)")
        return out
    for key in ("iscrowd", "difficult"):
        flags = _column(entry, key, where, n, np.float64) if key in entry else np.zeros(n)
        out[key] = flags != 0
    if "area" in entry:
        out["area"] = _column(entry, "area", where, n, np.float64)
        if not np.all(np.isfinite(out["area"])) or np.any(out["area"] < 0):
            raise ValueError(f"{where}['area'] must be finite and >= 0")
    return out


def standardize_images(images, name: str, detections: bool, iou_type: str = "bbox") -> list[dict]:
    """Checks one per-image list (``name`` is used in errors) and returns dicts of float64 /
    int64 / bool arrays with ``area`` (the box area, for ``iou_type="segm"`` the mask pixel
    count; a ground-truth ``area`` given wins) and, for "segm", bool ``masks`` ``[N, H, W]``;
    ground truth gains ``iscrowd`` and ``difficult`` defaults."""
    _check_iou_type(iou_type)
    if isinstance(images, (Mapping, str)) or not isinstance(images, Sequence):
        raise ValueError(f"{name} must be a list with one dict per image; got {type(images)}")
    return [
        _check_image(entry, f"{name}[{i}]", detections, iou_type) for i, entry in enumerate(images)
    ]


def standardize_detections(
    ground_truth, detections, iou_type: str = "bbox"
) -> tuple[list[dict], list[dict]]:
    """:func:`standardize_images` on both lists, which must have the same length (and, for
    masks, the same image size ``H, W`` image by image)."""
    gts = standardize_images(ground_truth, "ground_truth", False, iou_type)
    dets = standardize_images(detections, "detections", True, iou_type)
    if len(gts) != len(dets):
        raise ValueError(
            "ground_truth and detections must have one entry per image, in the same order; "
            f"got {len(gts)} and {len(dets)}"
        )
    for i, (g, d) in enumerate(zip(gts, dets, strict=True)):
        if "masks" in g and g["masks"].shape[1:] != d["masks"].shape[1:]:
            raise ValueError(
                f"image {i}: ground_truth[{i}]['masks'] are {g['masks'].shape[1:]} (H, W) but "
                f"detections[{i}]['masks'] are {d['masks'].shape[1:]}; they must be equal"
            )
    return gts, dets


def _category_ids(gts: list[dict], class_ids) -> list[int]:
    if class_ids is None:
        return sorted({int(c) for g in gts for c in g["classes"]})
    return sorted({int(c) for c in class_ids})


# ---------------------------------------------------------------------------------------------
# COCO


def _coco_iou(det_xywh: np.ndarray, gt_xywh: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """``[D, G]`` IoU with ``pycocotools.mask.iou``'s arithmetic (``bbIou``): on xywh boxes,
    no +1; for a crowd ground truth the union is the detection's own area."""
    d, g = det_xywh[:, None, :], gt_xywh[None, :, :]
    w = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0], g[..., 0])
    h = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1], g[..., 1])
    overlap = (w > 0) & (h > 0)
    inter = np.where(overlap, w * h, 0.0)
    det_area, gt_area = d[..., 2] * d[..., 3], g[..., 2] * g[..., 3]
    union = np.where(crowd[None, :], det_area, det_area + gt_area - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=overlap)


def _greedy_match(ious, gt_ignore, crowd, thresholds):
    """COCOeval.evaluateImg's matching for every area range and IoU threshold at once.

    Detections in score order each take the available ground truth with the highest IoU >= the
    threshold, regular ground truth before ignored ones, ties going to the later box (as the
    ``>=`` update in pycocotools's loop does); a crowd box can be taken many times. Returns the
    matched ground-truth index, ``[A, T, D]`` with -1 for none.
    """
    num_det, num_gt = ious.shape
    taken = np.zeros((len(gt_ignore), len(thresholds), num_gt), dtype=bool)
    matches = np.full(taken.shape[:2] + (num_det,), -1)
    limit = np.minimum(thresholds, 1 - 1e-10)[None, :, None]
    for d in range(num_det if num_gt else 0):
        ok = (ious[d] >= limit) & (~taken | crowd)
        best = np.full(taken.shape[:2], -1)
        for group in (~gt_ignore, gt_ignore):
            candidates = ok & group[:, None, :]
            values = np.where(candidates, ious[d], -1.0)
            last_max = num_gt - 1 - np.argmax(values[..., ::-1], axis=-1)
            best = np.where((best < 0) & candidates.any(-1), last_max, best)
        matches[..., d] = best
        a, t = np.nonzero(best >= 0)
        taken[a, t, best[a, t]] = True
    return matches


def _evaluate_image(gt, det, class_id, max_det, iou_type):
    """One image and class, for every area range: COCOeval.evaluateImg's result."""
    g, d = gt["classes"] == class_id, np.flatnonzero(det["classes"] == class_id)
    d = d[np.argsort(-det["scores"][d], kind="mergesort")[:max_det]]
    scores, det_area = det["scores"][d], det["area"][d]
    crowd, area = gt["iscrowd"][g], gt["area"][g]
    if iou_type == "segm":
        ious = mask_iou(det["masks"][d], gt["masks"][g], crowd)
    else:
        to_xywh = lambda b: np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
        ious = _coco_iou(to_xywh(det["boxes"][d]), to_xywh(gt["boxes"][g]), crowd)
    ranges = np.array(COCO_AREA_RANGES)[:, :, None]
    gt_ignore = crowd[None, :] | (area < ranges[:, 0]) | (area > ranges[:, 1])  # [A, G]
    det_outside = (det_area < ranges[:, 0]) | (det_area > ranges[:, 1])  # [A, D]
    matches = _greedy_match(ious, gt_ignore, crowd, COCO_IOU_THRESHOLDS)
    matched = matches >= 0
    padded = np.concatenate([gt_ignore, np.zeros((len(gt_ignore), 1), dtype=bool)], axis=1)
    ignore_of_match = padded[np.arange(len(gt_ignore))[:, None, None], matches]  # -1: padding
    ignored = np.where(matched, ignore_of_match, det_outside[:, None, :])
    return scores, matched, ignored, np.count_nonzero(~gt_ignore, axis=1)


def _accumulate(entries, precision, recall, k):
    """COCOeval.accumulate for one class: fills ``precision[:, :, k]`` and ``recall[:, k]``."""
    if not entries:
        return
    for a in range(len(COCO_AREA_RANGES)):
        num_regular = sum(int(e[3][a]) for e in entries)
        if num_regular == 0:
            continue
        for m, max_det in enumerate(COCO_MAX_DETECTIONS):
            scores = np.concatenate([e[0][:max_det] for e in entries])
            order = np.argsort(-scores, kind="mergesort")
            matched = np.concatenate([e[1][a, :, :max_det] for e in entries], axis=1)[:, order]
            ignored = np.concatenate([e[2][a, :, :max_det] for e in entries], axis=1)[:, order]
            tp = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
            fp = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
            num = tp.shape[1]
            rc = tp / num_regular
            pr = tp / (fp + tp + np.spacing(1))
            pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # the precision envelope
            recall[:, k, a, m] = rc[:, -1] if num else 0.0
            for t in range(len(rc)):
                idx = np.searchsorted(rc[t], COCO_RECALL_THRESHOLDS, side="left")
                q = pr[t, np.minimum(idx, num - 1)] if num else np.zeros(len(idx))
                precision[t, :, k, a, m] = np.where(idx < num, q, 0.0)


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def coco_map(
    ground_truth, detections, class_ids: Sequence[int] | None = None, iou_type: str = "bbox"
) -> dict:
    """COCO box or mask mAP, equal to ``pycocotools.cocoeval.COCOeval(..., iou_type)``.

    AP is averaged over IoU 0.50:0.05:0.95 and 101 recall points, for area ranges
    all/small/medium/large (32², 96²) and up to 1/10/100 detections per image, with
    pycocotools's rules: per image and class, detections in score order (stable sort) are
    matched greedily; crowd ground truth and ground truth outside the area range are ignored,
    as are detections matched to them and unmatched detections outside the range. Box IoU
    uses pycocotools's xywh arithmetic (no +1); mask IoU (``iou_type="segm"``) is pixel
    intersection over union, over the detection's own pixel count for a crowd ground truth,
    0 without a common pixel (empty masks included), as ``pycocotools.mask.iou``. Areas for the
    ranges: detections use the box area, or for "segm" the mask pixel count (what
    ``COCO.loadRes`` computes for mask results without a ``bbox``); ground truth uses its
    ``area`` if given, else the same default (COCOeval reads the annotation's ``area``: the
    files of :func:`~yeehaw_tf.metrics.coco_json.write_coco_json` store this one). Precision
    keeps pycocotools's ``tp / (tp + fp + eps)``, so perfect detections score ``1 - 1e-16``.

    Args:
      ground_truth, detections: per-image lists (see the module docstring); "segm" needs
        ``masks`` in both.
      class_ids: the categories to evaluate (the ground-truth file's ``categories``); default:
        every class with ground truth.
      iou_type: "bbox" (boxes) or "segm" (instance masks).

    Returns:
      ``AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl`` (floats,
      ``COCOeval.stats[0:12]``; -1 where there is no ground truth) and ``per_class``:
      ``{class_id: AP}`` (the mean of ``eval['precision'][:, :, k, 0, 2]``, -1 without ground
      truth).
    """
    gts, dets = standardize_detections(ground_truth, detections, iou_type)
    categories = _category_ids(gts, class_ids)
    shape = (len(COCO_IOU_THRESHOLDS), len(categories), len(COCO_AREA_RANGES))
    precision = -np.ones(shape[:1] + (len(COCO_RECALL_THRESHOLDS),) + shape[1:] + (3,))
    recall = -np.ones(shape + (len(COCO_MAX_DETECTIONS),))
    entries = {c: [] for c in categories}  # per class, in image order
    for g, d in zip(gts, dets, strict=True):
        for c in np.intersect1d(np.union1d(g["classes"], d["classes"]), categories):
            entries[int(c)].append(_evaluate_image(g, d, c, COCO_MAX_DETECTIONS[-1], iou_type))
    for k, class_id in enumerate(categories):
        _accumulate(entries[class_id], precision, recall, k)
    result = {}
    for key, is_ap, iou_threshold, a, m in _COCO_SUMMARY:
        values = precision if is_ap else recall
        if iou_threshold is not None:
            values = values[np.where(iou_threshold == COCO_IOU_THRESHOLDS)[0]]
        result[key] = _mean_valid(values[..., a, m])
    result["per_class"] = {
        c: _mean_valid(precision[:, :, k, 0, 2]) for k, c in enumerate(categories)
    }
    return result


# ---------------------------------------------------------------------------------------------
# PASCAL VOC


def _voc_ap(recall: np.ndarray, precision: np.ndarray, use_11_point: bool) -> float:
    """``voc_ap`` of the VOC devkit's ``voc_eval.py``."""
    if use_11_point:  # VOC2007: mean of the best precision at recall >= 0, 0.1, ..., 1
        points = [precision[recall >= t] for t in np.arange(0.0, 1.1, 0.1)]
        return float(sum(np.max(p) if p.size else 0.0 for p in points) / 11.0)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def voc_map(
    ground_truth,
    detections,
    iou_threshold: float = 0.5,
    use_11_point: bool = False,
    class_ids: Sequence[int] | None = None,
) -> dict:
    """PASCAL VOC mAP as the devkit's ``voc_eval.py`` computes it.

    Per class, detections from all images in score order (a stable sort, where the devkit's
    sort is unstable) each take the ground truth of its image with the highest IoU (the first
    on a tie); IoU must exceed ``iou_threshold`` strictly. A first match is a true positive, a
    repeat a false positive, a match to a ``difficult`` box neither; difficult boxes do not
    count as positives. AP is the area under the precision envelope (VOC2010+), or with
    ``use_11_point`` the mean of 11 sampled precisions (VOC2007). Boxes are continuous
    coordinates: to reproduce the devkit's +1 pixel convention, add 1 to every x2 and y2.

    Returns ``{"mAP": float, "per_class": {class_id: AP}}``; a class without non-difficult
    ground truth has AP -1 and is left out of the mean (-1 if nothing is left).
    """
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1]; got {iou_threshold}")
    gts, dets = standardize_detections(ground_truth, detections)
    ious = [
        iou(d["boxes"], g["boxes"]).numpy() if len(d["boxes"]) and len(g["boxes"]) else None
        for g, d in zip(gts, dets, strict=True)
    ]
    per_class = {}
    for class_id in _category_ids(gts, class_ids):
        num_positive = sum(int(np.sum((g["classes"] == class_id) & ~g["difficult"])) for g in gts)
        if num_positive == 0:
            per_class[class_id] = -1.0
            continue
        rows = [
            (i, j) for i, d in enumerate(dets) for j in np.flatnonzero(d["classes"] == class_id)
        ]
        scores = np.array([dets[i]["scores"][j] for i, j in rows])
        taken = [np.zeros(len(g["boxes"]), dtype=bool) for g in gts]
        tp, fp = np.zeros(len(rows)), np.zeros(len(rows))
        for n, r in enumerate(np.argsort(-scores, kind="mergesort")):
            i, j = rows[r]
            same = np.flatnonzero(gts[i]["classes"] == class_id)
            overlaps = ious[i][j, same] if len(same) else np.zeros(0)
            if not len(same) or overlaps.max() <= iou_threshold:
                fp[n] = 1.0
                continue
            best = same[np.argmax(overlaps)]
            if gts[i]["difficult"][best]:
                continue
            if taken[i][best]:
                fp[n] = 1.0
            else:
                tp[n], taken[i][best] = 1.0, True
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        per_class[class_id] = _voc_ap(tp / num_positive, precision, use_11_point)
    return {"mAP": _mean_valid(np.array(list(per_class.values()))), "per_class": per_class}


# ---------------------------------------------------------------------------------------------
# Streaming Keras metric


def _unbatch(value, name: str):
    """A dict of padded batch arrays (``classes [B, N]`` with -1 for padding, ``boxes
    [B, N, 4]``, ``masks [B, N, H, W]``, ...) becomes a list of per-image dicts; a list passes
    through."""
    if not isinstance(value, Mapping):
        return list(value)
    arrays = {key: np.asarray(v) for key, v in value.items()}
    if "classes" not in arrays or arrays["classes"].ndim != 2:
        raise ValueError(
            f"{name} must be a list of per-image dicts or a batch dict with 'classes' [B, N] "
            "(-1 for padding) and 'boxes' [B, N, 4] and/or 'masks' [B, N, H, W]"
        )
    keep = arrays["classes"] >= 0
    return [{k: v[b][keep[b]] for k, v in arrays.items()} for b in range(len(keep))]


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class COCOMeanAveragePrecision(keras.metrics.Metric):
    """Streaming :func:`coco_map`: ``update_state`` stores each batch's images in Python lists
    and ``result()`` evaluates them all. It runs eagerly only (use ``run_eagerly=True`` with
    ``fit``/``evaluate``); inside ``tf.function`` it raises ``RuntimeError``.

    ``update_state(ground_truth, detections)`` takes the per-image lists of :func:`coco_map`
    or batch dicts of padded arrays (class -1 marks padding). ``result()`` returns the twelve
    summary numbers as a flat dict of floats; ``detailed_result()`` adds ``per_class``. With
    ``iou_type="segm"`` every mask of the epoch is kept (as bool) until ``reset_state``.
    """

    def __init__(
        self,
        class_ids: Sequence[int] | None = None,
        iou_type: str = "bbox",
        name="coco_map",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        self.class_ids = None if class_ids is None else [int(c) for c in class_ids]
        self.iou_type = _check_iou_type(iou_type)
        self._ground_truth, self._detections = [], []

    def update_state(self, ground_truth, detections, sample_weight=None):
        if not tf.executing_eagerly():
            raise RuntimeError(
                f"{type(self).__name__} keeps per-image results in Python lists and runs only "
                "eagerly; it was called inside tf.function (compile with run_eagerly=True)"
            )
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported by COCO mAP; pass None")
        gts, dets = standardize_detections(
            _unbatch(ground_truth, "ground_truth"),
            _unbatch(detections, "detections"),
            self.iou_type,
        )
        self._ground_truth.extend(gts)
        self._detections.extend(dets)

    def detailed_result(self) -> dict:
        return coco_map(self._ground_truth, self._detections, self.class_ids, self.iou_type)

    def result(self) -> dict:
        return {k: v for k, v in self.detailed_result().items() if k != "per_class"}

    def reset_state(self):
        self._ground_truth, self._detections = [], []

    def get_config(self):
        return {
            "class_ids": self.class_ids,
            "iou_type": self.iou_type,
            "name": self.name,
            "dtype": self.dtype,
        }
