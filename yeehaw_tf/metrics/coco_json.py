"""Ground truth and detections as COCO JSON files, for ``pycocotools`` or other COCO tools.

``COCO(gt_path).loadRes(det_path)`` loads the pair, and ``COCOeval`` on it gives the numbers of
:func:`yeehaw_tf.metrics.detection_map.coco_map` (called with ``class_ids`` equal to the
categories written, which by default are exactly the ones ``coco_map`` evaluates) and the
same ``iou_type``.

With ``iou_type="segm"`` the images get ``height`` and ``width`` (``COCO.annToRLE`` needs
them), every annotation a ``segmentation`` in COCO RLE (compressed string counts; crowd ground
truth in uncompressed list counts, COCO's own form for crowd regions) and ``area`` the mask
pixel count unless an ``area`` was given, which is the area ``coco_map`` uses. Mask results
carry no ``bbox``: with one, ``loadRes`` would take the box area as the detection's area and
move detections between the small/medium/large ranges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from yeehaw_tf.atomic import atomic_write_text
from yeehaw_tf.metrics.detection_map import standardize_detections, standardize_images
from yeehaw_tf.metrics.masks import encode_rle


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


def _image(image_id: int, image: dict) -> dict:
    if "masks" not in image:
        return {"id": image_id}
    height, width = image["masks"].shape[1:]
    return {"id": image_id, "height": int(height), "width": int(width)}


def coco_ground_truth(ground_truth, class_names=None, iou_type: str = "bbox") -> dict:
    """The COCO ground-truth dataset dict: image ids are list positions, annotation ids count
    from 1 (COCOeval treats id 0 as "no match"), categories as in :func:`write_coco_json`;
    ``iou_type="segm"`` adds the masks (see the module docstring)."""
    gts = standardize_images(ground_truth, "ground_truth", False, iou_type)
    annotations = []
    for image_id, g in enumerate(gts):
        for k, c in enumerate(g["classes"]):
            crowd = bool(g["iscrowd"][k])
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": int(c),
                "bbox": _xywh(g["boxes"][k]),
                "area": float(g["area"][k]),
                "iscrowd": int(crowd),
            }
            if "masks" in g:
                annotation["segmentation"] = encode_rle(g["masks"][k], compressed=not crowd)
            annotations.append(annotation)
    return {
        "images": [_image(i, g) for i, g in enumerate(gts)],
        "annotations": annotations,
        "categories": _categories(gts, class_names),
    }


def coco_results(detections, iou_type: str = "bbox") -> list[dict]:
    """The COCO results list: one ``{image_id, category_id, bbox (xywh), score}`` per box, or
    for ``iou_type="segm"`` one ``{image_id, category_id, segmentation (compressed RLE),
    score}`` per mask."""
    dets = standardize_images(detections, "detections", True, iou_type)
    results = []
    for i, d in enumerate(dets):
        for k, (c, s) in enumerate(zip(d["classes"], d["scores"], strict=True)):
            result = {"image_id": i, "category_id": int(c), "score": float(s)}
            if iou_type == "segm":
                result["segmentation"] = encode_rle(d["masks"][k])
            else:
                result["bbox"] = _xywh(d["boxes"][k])
            results.append(result)
    return results


def write_coco_json(
    ground_truth,
    detections,
    gt_path: str,
    det_path: str,
    class_names=None,
    iou_type: str = "bbox",
) -> None:
    """Writes ``gt_path`` (COCO dataset) and ``det_path`` (COCO results), each atomically.

    ``class_names``: None (categories = the ground-truth classes, named by their ids), a list
    of names (category id = index) or a dict ``{id: name}``; every ground-truth class must be
    named. ``iou_type``: "bbox" writes boxes, "segm" instance masks as COCO RLE (both lists
    then need ``masks``; see the module docstring). Note that ``pycocotools``'s ``loadRes``
    cannot read an empty results list.
    """
    standardize_detections(ground_truth, detections, iou_type)  # the two lists must agree
    gt = coco_ground_truth(ground_truth, class_names, iou_type)
    atomic_write_text(gt_path, json.dumps(gt))
    atomic_write_text(det_path, json.dumps(coco_results(detections, iou_type)))
