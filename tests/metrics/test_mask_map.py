"""COCO mask mAP (``coco_map(..., iou_type="segm")``) against pycocotools's COCOeval "segm";
mask IoU and COCO RLE against ``pycocotools.mask`` and a float64 loop."""

from __future__ import annotations

import contextlib
import io
import json

import keras
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from yeehaw_tf.metrics.coco_json import coco_ground_truth, coco_results, write_coco_json
from yeehaw_tf.metrics.detection_map import COCO_SUMMARY_KEYS, COCOMeanAveragePrecision, coco_map
from yeehaw_tf.metrics.masks import encode_rle, mask_boxes, mask_iou, rle_counts

ATOL = 1e-9  # as for boxes: both sides divide the same integers in float64

# ---------------------------------------------------------------------------------------------
# References


def _rle(mask) -> dict:
    """pycocotools's own encoding (not ours), counts as str as in a JSON file."""
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def _cocoeval(ground_truth, detections, class_ids=None) -> COCOeval:
    """COCOeval "segm" on COCO objects built in memory with pycocotools's encoder. Ground
    truth ``area`` is the mask pixel count unless given (our default); results carry no
    ``bbox``, so ``loadRes`` sets their area to the mask's pixel count."""
    images, annotations, results = [], [], []
    for i, (g, d) in enumerate(zip(ground_truth, detections, strict=True)):
        masks = np.asarray(g["masks"], dtype=bool)
        images.append({"id": i, "height": masks.shape[1], "width": masks.shape[2]})
        crowd = np.asarray(g.get("iscrowd", np.zeros(len(masks))))
        area = np.asarray(g.get("area", masks.sum(axis=(1, 2))), np.float64)
        for m, c, cr, a in zip(masks, g["classes"], crowd, area, strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": int(c),
                    "segmentation": _rle(m),
                    "area": float(a),
                    "iscrowd": int(cr),
                }
            )
        for m, c, s in zip(np.asarray(d["masks"]), d["classes"], d["scores"], strict=True):
            results.append(
                {"image_id": i, "category_id": int(c), "segmentation": _rle(m), "score": float(s)}
            )
    if class_ids is None:
        class_ids = sorted({int(c) for g in ground_truth for c in g["classes"]})
    gt = COCO()
    gt.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": int(c)} for c in class_ids],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        return _run(gt, gt.loadRes(results))


def _run(gt: COCO, dt: COCO) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(gt, dt, "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def _reference_per_class(evaluation: COCOeval) -> dict:
    out = {}
    for k, c in enumerate(evaluation.params.catIds):
        p = evaluation.eval["precision"][:, :, k, 0, 2]
        out[int(c)] = float(np.mean(p[p > -1])) if np.any(p > -1) else -1.0
    return out


def _assert_equal(ours: dict, reference: COCOeval) -> None:
    np.testing.assert_allclose(
        [ours[k] for k in COCO_SUMMARY_KEYS], reference.stats, rtol=0, atol=ATOL
    )
    expected = _reference_per_class(reference)
    assert ours["per_class"].keys() == expected.keys()
    np.testing.assert_allclose(
        list(ours["per_class"].values()), list(expected.values()), rtol=0, atol=ATOL
    )


def _assert_matches_pycocotools(ground_truth, detections, class_ids=None) -> dict:
    ours = coco_map(ground_truth, detections, class_ids=class_ids, iou_type="segm")
    _assert_equal(ours, _cocoeval(ground_truth, detections, class_ids))
    return ours


def _loop_iou(det, gt, crowd) -> np.ndarray:
    """The definition, pixel by pixel, in float64."""
    out = np.zeros((len(det), len(gt)))
    for i, d in enumerate(det):
        for j, g in enumerate(gt):
            inter = union = det_area = 0.0
            for a, b in zip(d.ravel(), g.ravel(), strict=True):
                inter += float(a and b)
                union += float(a or b)
                det_area += float(a)
            denominator = det_area if crowd[j] else union
            out[i, j] = inter / denominator if inter > 0 else 0.0
    return out


# ---------------------------------------------------------------------------------------------
# Cases

SIZES = ((32, 48), (24, 40), (120, 130))  # the last one holds large (> 96²) masks


def _random_mask(rng, height, width) -> np.ndarray:
    """A rectangle, an ellipse or a rectangle with holes; sizes from a few pixels to most of
    the image, so every area range occurs."""
    side = np.array([height, width])
    big = rng.random() < 0.3
    fraction = (
        rng.uniform(0.6, 1.0, 2) if big else np.exp(rng.uniform(np.log(1 / side), np.log(0.6)))
    )
    h, w = np.maximum(1, (fraction * side).round().astype(int))
    y0, x0 = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    yy, xx = np.mgrid[:height, :width]
    inside = (yy >= y0) & (yy < y0 + h) & (xx >= x0) & (xx < x0 + w)
    kind = rng.integers(3)
    if kind == 1:
        cy, cx = y0 + (h - 1) / 2, x0 + (w - 1) / 2
        inside &= ((yy - cy) / max(h / 2, 0.5)) ** 2 + ((xx - cx) / max(w / 2, 0.5)) ** 2 <= 1
    elif kind == 2:
        inside &= rng.random((height, width)) < 0.8
    return inside


def _near_copy(rng, mask) -> np.ndarray:
    """The mask shifted by a few pixels with some boundary pixels flipped: IoUs spread over
    the thresholds."""
    dy, dx = rng.integers(-2, 3, 2) * (rng.random() < 0.6)
    out = np.roll(mask, (dy, dx), axis=(0, 1))
    boundary = out ^ np.roll(out, 1, axis=0) | out ^ np.roll(out, 1, axis=1)
    return out ^ (boundary & (rng.random(mask.shape) < 0.2))


def _random_case(seed, num_images=6, num_classes=3, max_gt=6, max_det=15, crowd_rate=0.0):
    rng = np.random.default_rng(seed)
    ground_truth, detections = [], []
    for _ in range(num_images):
        height, width = SIZES[rng.integers(len(SIZES))]
        n = int(rng.integers(0, max_gt + 1))
        gt_masks = np.array([_random_mask(rng, height, width) for _ in range(n)], dtype=bool)
        gt_masks = gt_masks.reshape(n, height, width)
        gt_classes = rng.integers(0, num_classes, n)
        g = {"masks": gt_masks, "classes": gt_classes}
        if crowd_rate:
            g["iscrowd"] = (rng.random(n) < crowd_rate).astype(int)
        ground_truth.append(g)
        m = int(rng.integers(max_det // 2, max_det + 1))
        masks, classes = [], []
        for _ in range(m):
            if n and rng.random() < 0.7:
                j = rng.integers(n)
                masks.append(_near_copy(rng, gt_masks[j]))
                c = gt_classes[j] if rng.random() < 0.85 else rng.integers(0, num_classes + 1)
            else:
                masks.append(_random_mask(rng, height, width))
                c = rng.integers(0, num_classes + 1)  # class num_classes has no ground truth
            classes.append(int(c))
        scores = rng.random(m)
        tied = rng.random(m) < 0.3
        scores[tied] = np.round(scores[tied], 1)
        masks = np.array(masks, dtype=np.uint8).reshape(m, height, width)  # uint8 accepted too
        detections.append({"masks": masks, "classes": classes, "scores": scores})
    return ground_truth, detections


def _canvas(height, width, *rects) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    for y0, x0, y1, x1 in rects:
        mask[y0:y1, x0:x1] = True
    return mask


def _stack(height, width, masks) -> np.ndarray:
    return np.array(masks, dtype=bool).reshape(len(masks), height, width)


def _adversarial_case():
    """Tiny (1-4 pixel) and empty masks on both sides, IoU exactly 0.5 and 0.75, a detection
    with equal IoU to two masks, crowd regions (one detection matching a crowd region many
    times, a regular mask preferred to a better crowd match), masks of exactly 32² pixels,
    more than 100 detections, images without ground truth or without anything, a class never
    detected, a class never in the ground truth, tied scores."""
    c = _canvas
    h, w = 32, 48
    ground_truth = [
        # 0: tiny masks, an empty mask, a 32x32 square (area 1024: small and medium)
        {
            "masks": _stack(
                h,
                w,
                [c(h, w, (0, 0, 1, 1)), c(h, w, (5, 5, 7, 7)), c(h, w), c(h, w, (0, 16, 32, 48))],
            ),
            "classes": [0, 0, 0, 1],
        },
        # 1: two masks the detection overlaps equally (it takes the later one); class 2 never
        # detected
        {
            "masks": _stack(
                h, w, [c(h, w, (0, 0, 4, 4)), c(h, w, (0, 2, 4, 6)), c(h, w, (20, 20, 30, 30))]
            ),
            "classes": [0, 0, 2],
        },
        # 2: no ground truth, only false positives (one empty)
        {"masks": np.zeros((0, h, w), dtype=bool), "classes": []},
        # 3: a crowd region with many detections inside, and a regular mask inside it that a
        # detection overlaps less well than the crowd region
        {
            "masks": _stack(h, w, [c(h, w, (0, 0, 20, 20)), c(h, w, (0, 0, 4, 3))]),
            "classes": [0, 0],
            "iscrowd": [1, 0],
        },
        # 4: nothing at all
        {"masks": np.zeros((0, 8, 8), dtype=bool), "classes": []},
        # 5: 130 detections on two objects
        {
            "masks": _stack(h, w, [c(h, w, (0, 0, 10, 10)), c(h, w, (20, 30, 24, 34))]),
            "classes": [1, 1],
        },
    ]
    detections = [
        {
            "masks": _stack(
                h,
                w,
                [
                    c(h, w, (0, 0, 1, 1)),  # exact, tiny
                    c(h, w, (0, 0, 1, 2)),  # IoU 1/2 with the one-pixel mask
                    c(h, w, (5, 5, 7, 6)),  # IoU 1/2 with the 2x2 mask
                    c(h, w, (5, 5, 7, 7), (7, 5, 8, 7)),  # IoU 4/6
                    c(h, w),  # empty detection
                    c(h, w, (0, 16, 32, 48)),  # exact 32x32
                    c(h, w, (0, 16, 32, 40)),  # IoU exactly 0.75 with it (768 / 1024)
                    c(h, w, (0, 16, 32, 40), (0, 0, 32, 8)),  # 1024 pixels, IoU 768 / 1280
                    c(h, w, (10, 0, 11, 1)),  # class 3: no ground truth anywhere
                ],
            ),
            "classes": [0, 0, 0, 0, 0, 1, 1, 1, 3],
            "scores": [0.9, 0.9, 0.8, 0.8, 0.95, 0.5, 0.5, 0.6, 0.99],
        },
        {
            "masks": _stack(h, w, [c(h, w, (0, 1, 4, 5)), c(h, w, (0, 0, 1, 4))]),
            "classes": [0, 0],
            "scores": [0.7, 0.7],
        },
        {
            "masks": _stack(h, w, [c(h, w, (3, 3, 9, 9)), c(h, w)]),
            "classes": [0, 1],
            "scores": [0.5, 0.9],
        },
        {
            "masks": _stack(
                h,
                w,
                [c(h, w, (0, 0, 4, 4))]  # IoU 12/16 with the regular mask, 1.0 with the crowd one
                + [c(h, w, (y, x, y + 3, x + 3)) for y, x in [(5, 5), (10, 2), (15, 15), (0, 10)]]
                + [c(h, w, (25, 40, 27, 42))],  # outside the crowd region
            ),
            "classes": [0] * 6,
            "scores": [0.9, 0.8, 0.8, 0.7, 0.6, 0.6],
        },
        {"masks": np.zeros((1, 8, 8), dtype=bool), "classes": [0], "scores": [0.3]},
        {
            "masks": _stack(
                h,
                w,
                [c(h, w, (i % 3, i % 4, 10 - i % 5, 10)) for i in range(120)]
                + [c(h, w, (20, 30 + i % 3, 24, 34)) for i in range(10)],
            ),
            "classes": [1] * 130,
            "scores": np.round(np.linspace(0.2, 0.95, 130), 1),
        },
    ]
    return ground_truth, detections


# ---------------------------------------------------------------------------------------------
# Mask IoU and RLE


def test_mask_iou_equals_the_loop_definition_and_pycocotools():
    rng = np.random.default_rng(0)
    for _ in range(30):
        height, width = rng.integers(1, 7, 2)
        num_det, num_gt = rng.integers(0, 5, 2)
        det = rng.random((num_det, height, width)) < rng.random()
        gt = rng.random((num_gt, height, width)) < rng.random()
        if num_det and num_gt:
            det[0], gt[-1] = False, False  # empty masks on both sides
        crowd = rng.random(num_gt) < 0.5
        ours = mask_iou(det, gt, crowd)
        assert ours.shape == (num_det, num_gt)
        np.testing.assert_array_equal(ours, _loop_iou(det, gt, crowd))
        if num_det and num_gt:
            reference = mask_utils.iou(
                [_rle(m) for m in det], [_rle(m) for m in gt], crowd.astype(np.uint8).tolist()
            )
            np.testing.assert_array_equal(ours, reference)  # bit for bit


def test_empty_masks_have_iou_zero_in_pycocotools_too():
    empty = np.zeros((1, 4, 4), dtype=bool)
    for crowd in (0, 1):
        assert mask_utils.iou([_rle(empty[0])], [_rle(empty[0])], [crowd])[0, 0] == 0.0
        assert mask_iou(empty, empty, [crowd])[0, 0] == 0.0


def test_mask_iou_blocks_give_the_same_answer(monkeypatch):
    from yeehaw_tf.metrics import masks as masks_module

    rng = np.random.default_rng(1)
    det, gt = rng.random((7, 9, 11)) < 0.4, rng.random((5, 9, 11)) < 0.4
    whole = mask_iou(det, gt)
    monkeypatch.setattr(masks_module, "_BLOCK_ELEMENTS", 2 * 99)  # two detections a block
    np.testing.assert_array_equal(mask_iou(det, gt), whole)


def test_rle_equals_pycocotools_encode_and_decodes_exactly():
    rng = np.random.default_rng(2)
    for t in range(300):
        height, width = rng.integers(1, 40, 2)
        mask = rng.random((height, width)) < rng.random()
        mask[:] = {0: False, 1: True}.get(t % 10, mask)  # empty and full masks too
        reference = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        compressed = encode_rle(mask)
        assert compressed == {"size": [height, width], "counts": reference["counts"].decode()}
        np.testing.assert_array_equal(mask_utils.decode(compressed), mask)
        uncompressed = encode_rle(mask, compressed=False)
        assert uncompressed["counts"] == rle_counts(mask) and sum(rle_counts(mask)) == mask.size
        decoded = mask_utils.decode(mask_utils.frPyObjects(uncompressed, height, width))
        np.testing.assert_array_equal(decoded, mask)


def test_rle_of_long_runs_uses_multi_character_numbers():
    mask = np.zeros((300, 400), dtype=bool)
    mask[100:250, 7:390] = True  # runs of thousands of pixels and differences of both signs
    mask[0, 0] = True
    reference = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()
    assert encode_rle(mask)["counts"] == reference
    np.testing.assert_array_equal(mask_utils.decode(encode_rle(mask)), mask)


def test_mask_boxes_equal_pycocotools_to_bbox():
    ground_truth, _ = _random_case(3)
    for g in ground_truth:
        for mask, box in zip(g["masks"], mask_boxes(g["masks"]), strict=True):
            x, y, bw, bh = mask_utils.toBbox(_rle(mask))
            assert box.tolist() == [x, y, x + bw, y + bh]


# ---------------------------------------------------------------------------------------------
# coco_map against COCOeval "segm"


@pytest.mark.parametrize(
    "seed, options",
    [
        (0, {}),
        (1, {"num_images": 3, "num_classes": 1, "max_det": 5}),
        (2, {"num_images": 8, "num_classes": 5}),
        (3, {"num_images": 2, "max_gt": 12, "max_det": 150}),
        (4, {"crowd_rate": 0.3}),
    ],
)
def test_random_masks_match_pycocotools(seed, options):
    _assert_matches_pycocotools(*_random_case(seed, **options))


def test_adversarial_masks_match_pycocotools():
    ours = _assert_matches_pycocotools(*_adversarial_case())
    assert ours["per_class"][2] == 0.0  # ground truth, never detected
    assert 3 not in ours["per_class"]  # detections only: not a category


def test_given_ground_truth_area_and_extra_categories_match_pycocotools():
    ground_truth, detections = _random_case(5, crowd_rate=0.2)
    rng = np.random.default_rng(5)
    for g in ground_truth[::2]:
        g["area"] = rng.uniform(0, 12000, len(g["classes"]))
    _assert_matches_pycocotools(ground_truth, detections, class_ids=[0, 1, 2, 3, 7])
    _assert_matches_pycocotools(ground_truth, detections, class_ids=[1])


def test_perfect_masks_score_one():
    ground_truth, _ = _random_case(6)
    detections = [
        {"masks": g["masks"], "classes": g["classes"], "scores": np.ones(len(g["classes"]))}
        for g in ground_truth
    ]
    ours = _assert_matches_pycocotools(ground_truth, detections)
    for key in ("AP", "AP50", "AP75", "AR100"):
        assert ours[key] == pytest.approx(1.0, abs=1e-12)


_tiny_mask = st.lists(st.booleans(), min_size=12, max_size=12).map(
    lambda bits: np.array(bits).reshape(3, 4)
)
_image = st.tuples(
    st.lists(st.tuples(_tiny_mask, st.integers(0, 1), st.booleans()), max_size=4),
    st.lists(st.tuples(_tiny_mask, st.integers(0, 2), st.sampled_from([0.2, 0.5])), max_size=6),
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(_image, min_size=1, max_size=3))
def test_tiny_random_masks_match_pycocotools(images):
    """3x4 images: IoU ties between masks and with the thresholds everywhere, empty masks,
    crowd masks, tied scores."""
    assume(any(dets for _, dets in images))
    ground_truth = [
        {
            "masks": _stack(3, 4, [m for m, _, _ in gts]),
            "classes": [c for _, c, _ in gts],
            "iscrowd": [int(crowd) for _, _, crowd in gts],
        }
        for gts, _ in images
    ]
    detections = [
        {
            "masks": _stack(3, 4, [m for m, _, _ in dets]),
            "classes": [c for _, c, _ in dets],
            "scores": [s for _, _, s in dets],
        }
        for _, dets in images
    ]
    _assert_matches_pycocotools(ground_truth, detections)


def test_boxes_are_optional_for_segm_and_masks_are_ignored_for_bbox():
    ground_truth, detections = _random_case(7)
    with_boxes = lambda images: [{**i, "boxes": mask_boxes(np.asarray(i["masks"]))} for i in images]
    segm = coco_map(ground_truth, detections, iou_type="segm")
    assert coco_map(with_boxes(ground_truth), with_boxes(detections), iou_type="segm") == segm
    boxes = coco_map(with_boxes(ground_truth), with_boxes(detections))  # masks ignored
    assert boxes != segm


def test_without_any_detection_or_ground_truth():
    gt = [{"masks": _stack(4, 4, [_canvas(4, 4, (0, 0, 2, 2))]), "classes": [0]}]
    ours = coco_map(
        gt, [{"masks": np.zeros((0, 4, 4)), "classes": [], "scores": []}], iou_type="segm"
    )
    assert ours["AP"] == 0.0 and ours["APl"] == -1.0 and ours["per_class"] == {0: 0.0}
    assert coco_map([], [], iou_type="segm")["AP"] == -1.0


# ---------------------------------------------------------------------------------------------
# COCO JSON with masks


def test_json_files_load_in_pycocotools_round_trip_and_give_the_same_numbers(tmp_path):
    ground_truth, detections = _random_case(8, crowd_rate=0.3)
    gt_path, det_path = str(tmp_path / "gt.json"), str(tmp_path / "det.json")
    write_coco_json(ground_truth, detections, gt_path, det_path, iou_type="segm")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(det_path)
    for i, g in enumerate(ground_truth):
        assert (gt.imgs[i]["height"], gt.imgs[i]["width"]) == g["masks"].shape[1:]
        anns = gt.loadAnns(gt.getAnnIds(imgIds=[i]))
        for ann, mask, crowd in zip(anns, g["masks"], g.get("iscrowd"), strict=True):
            assert isinstance(ann["segmentation"]["counts"], list if crowd else str)
            np.testing.assert_array_equal(gt.annToMask(ann), mask)
            assert ann["area"] == mask.sum()
    for i, d in enumerate(detections):
        anns = dt.loadAnns(dt.getAnnIds(imgIds=[i]))
        assert [a["score"] for a in anns] == list(d["scores"])
        for ann, mask in zip(anns, d["masks"], strict=True):
            np.testing.assert_array_equal(mask_utils.decode(ann["segmentation"]), mask)
            assert ann["area"] == mask.sum()  # loadRes's area is the mask's: no bbox written
    _assert_equal(coco_map(ground_truth, detections, iou_type="segm"), _run(gt, dt))
    with open(det_path) as f:
        assert all("bbox" not in r for r in json.load(f))


def test_json_dicts_in_memory_match_too():
    ground_truth, detections = _adversarial_case()
    gt = COCO()
    gt.dataset = coco_ground_truth(ground_truth, iou_type="segm")
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(coco_results(detections, iou_type="segm"))
    _assert_equal(coco_map(ground_truth, detections, iou_type="segm"), _run(gt, dt))
    with_boxes = lambda images: [{**i, "boxes": mask_boxes(i["masks"])} for i in images]
    boxes = coco_ground_truth(with_boxes(ground_truth))  # "bbox": the masks are not written
    assert all("segmentation" not in a for a in boxes["annotations"])
    assert boxes["images"][0] == {"id": 0}
    results = coco_results(with_boxes(detections))
    assert all("bbox" in r and "segmentation" not in r for r in results)


# ---------------------------------------------------------------------------------------------
# Streaming metric


def test_streaming_metric_with_masks_equals_coco_map_and_round_trips_its_config():
    ground_truth, detections = _random_case(9, num_images=5)
    metric = COCOMeanAveragePrecision(iou_type="segm")
    metric.update_state(ground_truth[:2], detections[:2])
    metric.update_state(ground_truth[2:], detections[2:])
    assert metric.detailed_result() == coco_map(ground_truth, detections, iou_type="segm")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert restored.iou_type == "segm" and restored.get_config() == metric.get_config()


def test_streaming_metric_accepts_padded_mask_batches():
    rng = np.random.default_rng(10)
    height, width, n = 8, 10, 4
    masks = rng.random((2, n, height, width)) < 0.4
    classes = np.array([[0, 1, -1, -1], [1, -1, -1, -1]])
    scores = rng.random((2, n))
    metric = COCOMeanAveragePrecision(iou_type="segm")
    metric.update_state(
        {"masks": masks, "classes": classes}, {"masks": masks, "classes": classes, "scores": scores}
    )
    per_image = lambda b, k: {"masks": masks[b, :k], "classes": classes[b, :k]}
    gts = [per_image(0, 2), per_image(1, 1)]
    dets = [
        {**per_image(0, 2), "scores": scores[0, :2]},
        {**per_image(1, 1), "scores": scores[1, :1]},
    ]
    assert metric.result()["AP"] == coco_map(gts, dets, iou_type="segm")["AP"]


# ---------------------------------------------------------------------------------------------
# Input errors


def _one_image(**changes):
    gt = {"masks": np.ones((1, 4, 5), dtype=bool), "classes": [0]}
    det = {"masks": np.ones((1, 4, 5), dtype=bool), "classes": [0], "scores": [0.5]}
    for key, value in changes.items():
        target, name = (gt, key[3:]) if key.startswith("gt_") else (det, key[4:])
        if value is None:
            del target[name]
        else:
            target[name] = value
    return [gt], [det]


@pytest.mark.parametrize(
    "inputs, message",
    [
        (_one_image(gt_masks=None), r"ground_truth\[0\] is missing 'masks'"),
        (_one_image(det_masks=np.ones((4, 5))), r"detections\[0\]\['masks'\] must have shape"),
        (
            _one_image(gt_masks=np.full((1, 4, 5), 2)),
            r"ground_truth\[0\]\['masks'\] must be binary",
        ),
        (
            _one_image(det_masks=np.ones((2, 4, 5))),
            r"detections\[0\]\['classes'\] must have shape \[2\]",
        ),
        (
            _one_image(det_boxes=[[0, 0, 1, 1], [0, 0, 2, 2]]),
            r"detections\[0\]\['masks'\] holds 1 masks for 2 boxes",
        ),
        (_one_image(det_masks=np.ones((1, 5, 4))), r"image 0: ground_truth\[0\]\['masks'\] are"),
    ],
)
def test_bad_mask_inputs_raise_value_errors_naming_the_argument(inputs, message):
    with pytest.raises(ValueError, match=message):
        coco_map(*inputs, iou_type="segm")


def test_unknown_iou_type_is_refused_by_name():
    for call in (
        lambda: coco_map(*_one_image(), iou_type="keypoints"),
        lambda: coco_results([], iou_type="mask"),
        lambda: COCOMeanAveragePrecision(iou_type="masks"),
    ):
        with pytest.raises(ValueError, match=r"iou_type must be one of \('bbox', 'segm'\)"):
            call()
