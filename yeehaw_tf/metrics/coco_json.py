"""Ground truth and detections as COCO JSON files, for ``pycocotools`` or other COCO tools.

``COCO(gt_path).loadRes(det_path)`` loads the pair, and ``COCOeval`` on it gives the numbers of
:func:`yeehaw_tf.metrics.detection_map.coco_map` (called with ``class_ids`` equal to the
categories written, which by default are exactly the ones ``coco_map`` evaluates).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from yeehaw_tf.atomic import atomic_write_text
from yeehaw_tf.metrics.detection_map import standardize_detections, standardize_images


def _xywh(box) -> list[float]:
    x1, y1, x2, y2 = box.tolist()
    return [x1, y1, x2 - x1, y2 - y1]  # the float64 arithmetic coco_map uses


def _categories(gts: list[dict], class_names) -> list[dict]:
    present = sorted({int(c) for g in gts for c in g["classes"]})
    if class_names is None:
        names = {c: str(c) for c in present}
    elif isinstance(class_names, Mapping):
        names = {int(c): str(n) for c, n in class_names.items()}
    elif isinstance(class_names, Sequence) and not isinstance(class_names, str):
        names = dict(enumerate(map(str, class_names)))
    else:
        raise ValueError(
            "class_names must be None, a list of names (id = index) or a dict {id: name}"
        )
    missing = [c for c in present if c not in names]
    if missing:
        raise ValueError(f"class_names has no entry for ground-truth classes {missing}")
    return [{"id": c, "name": names[c]} for c in sorted(names)]


def coco_ground_truth(ground_truth, class_names=None) -> dict:
    """The COCO ground-truth dataset dict: image ids are list positions, annotation ids count
    from 1 (COCOeval treats id 0 as "no match"), categories as in :func:`write_coco_json`."""
    gts = standardize_images(ground_truth, "ground_truth", detections=False)
    annotations = []
    for image_id, g in enumerate(gts):
        for box, c, crowd, area in zip(
            g["boxes"], g["classes"], g["iscrowd"], g["area"], strict=True
        ):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(c),
                    "bbox": _xywh(box),
                    "area": float(area),
                    "iscrowd": int(crowd),
                }
            )
    return {
        "images": [{"id": i} for i in range(len(gts))],
        "annotations": annotations,
        "categories": _categories(gts, class_names),
    }


def coco_results(detections) -> list[dict]:
    """The COCO results list: one ``{image_id, category_id, bbox (xywh), score}`` per box."""
    dets = standardize_images(detections, "detections", detections=True)
    return [
        {"image_id": i, "category_id": int(c), "bbox": _xywh(box), "score": float(s)}
        for i, d in enumerate(dets)
        for box, c, s in zip(d["boxes"], d["classes"], d["scores"], strict=True)
    ]


def write_coco_json(
    ground_truth, detections, gt_path: str, det_path: str, class_names=None
) -> None:
    """Writes ``gt_path`` (COCO dataset) and ``det_path`` (COCO results), each atomically.

    ``class_names``: None (categories = the ground-truth classes, named by their ids), a list
    of names (category id = index) or a dict ``{id: name}``; every ground-truth class must be
    named. Note that ``pycocotools``'s ``loadRes`` cannot read an empty results list.
    """
    standardize_detections(ground_truth, detections)  # the two lists must agree
    atomic_write_text(gt_path, json.dumps(coco_ground_truth(ground_truth, class_names)))
    atomic_write_text(det_path, json.dumps(coco_results(detections)))
