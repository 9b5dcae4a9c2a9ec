"""COCO mAP against pycocotools's COCOeval, VOC mAP against the devkit's voc_eval definition."""

from __future__ import annotations

import contextlib
import io
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from yeehaw_tf.metrics.coco_json import write_coco_json
from yeehaw_tf.metrics.detection_map import (
    COCO_SUMMARY_KEYS,
    COCOMeanAveragePrecision,
    coco_map,
    voc_map,
)

# Both sides do the same float64 arithmetic, so the numbers agree far inside the 1e-4 promised;
# a tie broken the wrong way moves AP by about 1e-4 or less, so the test is tighter than that.
ATOL = 1e-9


# ---------------------------------------------------------------------------------------------
# References


def _xywh(boxes) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)


def _cocoeval(ground_truth, detections, class_ids=None) -> COCOeval:
    """COCOeval run on COCO objects built in memory from the same boxes."""
    annotations, results = [], []
    for i, g in enumerate(ground_truth):
        xywh = _xywh(g["boxes"])
        crowd = np.asarray(g.get("iscrowd", np.zeros(len(xywh))))
        area = np.asarray(g.get("area", xywh[:, 2] * xywh[:, 3]), dtype=np.float64)
        for box, c, cr, a in zip(xywh, g["classes"], crowd, area, strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": int(c),
                    "bbox": box.tolist(),
                    "area": float(a),
                    "iscrowd": int(cr),
                }
            )
    for i, d in enumerate(detections):
        for box, c, s in zip(_xywh(d["boxes"]), d["classes"], d["scores"], strict=True):
            results.append(
                {"image_id": i, "category_id": int(c), "bbox": box.tolist(), "score": float(s)}
            )
    if class_ids is None:
        class_ids = sorted({int(c) for g in ground_truth for c in g["classes"]})
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i} for i in range(len(ground_truth))],
        "annotations": annotations,
        "categories": [{"id": int(c)} for c in class_ids],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        evaluation = COCOeval(gt, gt.loadRes(results), "bbox")
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


def _assert_matches_pycocotools(ground_truth, detections, class_ids=None) -> dict:
    ours = coco_map(ground_truth, detections, class_ids=class_ids)
    reference = _cocoeval(ground_truth, detections, class_ids)
    np.testing.assert_allclose(
        [ours[k] for k in COCO_SUMMARY_KEYS], reference.stats, rtol=0, atol=ATOL
    )
    expected = _reference_per_class(reference)
    assert ours["per_class"].keys() == expected.keys()
    np.testing.assert_allclose(
        list(ours["per_class"].values()), list(expected.values()), rtol=0, atol=ATOL
    )
    return ours


def _voc_ap_devkit(rec, prec, use_07_metric=False):
    """``voc_ap`` from the VOC devkit's voc_eval.py, verbatim apart from style."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap = ap + p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def _voc_eval_devkit(ground_truth, detections, class_id, ovthresh, use_07, plus_one=False):
    """voc_eval.py's loop for one class (a stable sort, continuous coordinates unless
    ``plus_one``); returns the AP or None without positives."""
    one = 1.0 if plus_one else 0.0
    recs, npos = {}, 0
    for i, g in enumerate(ground_truth):
        mask = np.asarray(g["classes"]) == class_id
        difficult = np.asarray(g.get("difficult", np.zeros(len(mask))), dtype=bool)[mask]
        npos += int(np.sum(~difficult))
        bbox = np.asarray(g["boxes"], dtype=np.float64).reshape(-1, 4)[mask]
        recs[i] = {"bbox": bbox, "difficult": difficult, "det": [False] * len(bbox)}
    if npos == 0:
        return None
    image_ids, confidence, boxes = [], [], []
    for i, d in enumerate(detections):
        for box, c, s in zip(d["boxes"], d["classes"], d["scores"], strict=True):
            if c == class_id:
                image_ids.append(i)
                confidence.append(s)
                boxes.append(box)
    order = np.argsort(-np.array(confidence), kind="mergesort")
    nd = len(order)
    tp, fp = np.zeros(nd), np.zeros(nd)
    for d in range(nd):
        r = recs[image_ids[order[d]]]
        bb = np.asarray(boxes[order[d]], dtype=np.float64)
        ovmax, bbgt = -np.inf, r["bbox"]
        if bbgt.size > 0:
            iw = np.maximum(np.minimum(bbgt[:, 2], bb[2]) - np.maximum(bbgt[:, 0], bb[0]) + one, 0)
            ih = np.maximum(np.minimum(bbgt[:, 3], bb[3]) - np.maximum(bbgt[:, 1], bb[1]) + one, 0)
            inters = iw * ih
            uni = (
                (bb[2] - bb[0] + one) * (bb[3] - bb[1] + one)
                + (bbgt[:, 2] - bbgt[:, 0] + one) * (bbgt[:, 3] - bbgt[:, 1] + one)
                - inters
            )
            overlaps = inters / uni
            ovmax, jmax = np.max(overlaps), np.argmax(overlaps)
        if ovmax > ovthresh:
            if not r["difficult"][jmax]:
                if not r["det"][jmax]:
                    tp[d], r["det"][jmax] = 1.0, True
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return _voc_ap_devkit(tp / float(npos), prec, use_07)


# ---------------------------------------------------------------------------------------------
# Cases


def _random_case(
    seed, num_images=8, num_classes=4, max_gt=8, max_det=25, crowd_rate=0.0, tie_rate=0.3
):
    """Ground truth of all three area ranges; detections are jittered copies of ground truth
    (IoU spread over the thresholds), class confusions and random boxes; some scores tied."""
    rng = np.random.default_rng(seed)
    ground_truth, detections = [], []
    for _ in range(num_images):
        n = int(rng.integers(0, max_gt + 1))
        wh = np.exp(rng.uniform(np.log(4), np.log(300), (n, 2)))
        xy = rng.uniform(0, 400, (n, 2))
        gt_boxes = np.concatenate([xy, xy + wh], axis=1)
        gt_classes = rng.integers(0, num_classes, n)
        g = {"boxes": gt_boxes, "classes": gt_classes}
        if crowd_rate:
            g["iscrowd"] = (rng.random(n) < crowd_rate).astype(int)
        ground_truth.append(g)
        m = int(rng.integers(0, max_det + 1))
        boxes, classes = [], []
        for _ in range(m):
            if n and rng.random() < 0.7:
                j = rng.integers(n)
                w, h = wh[j]
                box = gt_boxes[j] + rng.normal(0, 0.12, 4) * [w, h, w, h]
                box = np.concatenate([np.minimum(box[:2], box[2:]), np.maximum(box[:2], box[2:])])
                c = gt_classes[j] if rng.random() < 0.85 else rng.integers(0, num_classes + 1)
            else:
                p = rng.uniform(0, 400, 2)
                box = np.concatenate([p, p + np.exp(rng.uniform(np.log(4), np.log(300), 2))])
                c = rng.integers(0, num_classes + 1)  # class num_classes has no ground truth
            boxes.append(box)
            classes.append(int(c))
        scores = rng.random(m)
        tied = rng.random(m) < tie_rate
        scores[tied] = np.round(scores[tied], 1)
        detections.append(
            {"boxes": np.array(boxes).reshape(-1, 4), "classes": classes, "scores": scores}
        )
    return ground_truth, detections


def _empty_detections():
    return {"boxes": np.zeros((0, 4)), "classes": [], "scores": []}


def _adversarial_case():
    """Exact IoU ties at thresholds, area-range boundaries, duplicates, ties, > 100 detections,
    classes without ground truth or without detections, images without either."""
    sq = lambda x, y, s: [x, y, x + s, y + s]
    ground_truth = [
        # image 0: 32x32 (area 1024 is both small and medium) and 96x96 (medium and large)
        {"boxes": [sq(0, 0, 32), sq(100, 100, 96), [300, 0, 340, 20]], "classes": [0, 0, 1]},
        # image 1: ground truth with no detections, and class 2 (never detected)
        {"boxes": [sq(10, 10, 50), sq(200, 200, 20)], "classes": [2, 0]},
        # image 2: no ground truth, only false positives
        {"boxes": np.zeros((0, 4)), "classes": []},
        # image 3: 150 detections on two objects
        {"boxes": [sq(0, 0, 100), sq(300, 300, 10)], "classes": [1, 1]},
        # image 4: nothing at all
        {"boxes": np.zeros((0, 4)), "classes": []},
        # image 5: a detection with equal IoU to two boxes takes the later one
        {"boxes": [[0, 0, 10, 10], [2, 0, 12, 10]], "classes": [0, 0]},
        # image 6: a regular box is preferred to a better-overlapping crowd box (class 0) or
        # box outside the area range (class 1: medium 60x60 and large 100x100)
        {
            "boxes": [[0, 0, 12, 10], [0, 0, 10, 10], sq(0, 0, 60), sq(0, 0, 100)],
            "classes": [0, 0, 1, 1],
            "iscrowd": [0, 1, 0, 0],
        },
    ]
    detections = [
        {
            "boxes": [
                sq(0, 0, 32),  # exact
                sq(0, 0, 32),  # duplicate, same score
                [0, 0, 64, 32],  # IoU exactly 0.5 with the first box
                [100, 100, 196, 196 + 32],  # IoU exactly 0.75 with the 96x96 box
                [300, 0, 340, 20],
                sq(500, 500, 10),  # class 3: no ground truth anywhere
            ],
            "classes": [0, 0, 0, 0, 1, 3],
            "scores": [0.9, 0.9, 0.9, 0.5, 0.5, 0.99],
        },
        _empty_detections(),
        {"boxes": [sq(5, 5, 40), sq(50, 50, 200)], "classes": [0, 1], "scores": [0.5, 0.9]},
        {
            "boxes": [sq(i % 7, i % 5, 100 - i % 9) for i in range(140)]
            + [sq(300 + i % 3, 300, 10) for i in range(10)],
            "classes": [1] * 150,
            "scores": np.round(np.linspace(0.2, 0.95, 150), 1),
        },
        {"boxes": [sq(0, 0, 5)], "classes": [0], "scores": [0.3]},
        {"boxes": [[1, 0, 11, 10], [0, 0, 10, 10]], "classes": [0, 0], "scores": [0.9, 0.8]},
        {"boxes": [[0, 0, 10, 10], sq(0, 0, 80)], "classes": [0, 1], "scores": [0.7, 0.6]},
    ]
    return ground_truth, detections


# ---------------------------------------------------------------------------------------------
# COCO


@pytest.mark.parametrize(
    "seed, options",
    [
        (0, {}),
        (1, {"num_images": 3, "num_classes": 1, "max_det": 5}),
        (2, {"num_images": 12, "num_classes": 6, "tie_rate": 0.9}),
        (3, {"num_images": 5, "max_gt": 3, "max_det": 40}),
        (4, {"num_images": 2, "max_gt": 20, "max_det": 130}),
        (5, {"num_images": 10, "num_classes": 3, "max_gt": 2, "max_det": 4}),
    ],
)
def test_coco_random_cases_match_pycocotools(seed, options):
    _assert_matches_pycocotools(*_random_case(seed, **options))


@pytest.mark.parametrize("seed", [10, 11])
def test_coco_with_crowd_and_given_area_matches_pycocotools(seed):
    ground_truth, detections = _random_case(seed, crowd_rate=0.3)
    rng = np.random.default_rng(seed)
    for g in ground_truth[::2]:  # a given area (e.g. a mask's) decides the area range
        b = np.asarray(g["boxes"]).reshape(-1, 4)
        g["area"] = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) * rng.uniform(0.3, 1.0, len(b))
    _assert_matches_pycocotools(ground_truth, detections)


def test_coco_adversarial_case_matches_pycocotools():
    ours = _assert_matches_pycocotools(*_adversarial_case())
    assert ours["per_class"][2] == 0.0  # ground truth, never detected
    assert 3 not in ours["per_class"]  # detections only: not a category


def test_coco_extra_categories_get_minus_one_and_change_nothing():
    ground_truth, detections = _random_case(7, num_classes=3)
    default = coco_map(ground_truth, detections)
    ours = _assert_matches_pycocotools(ground_truth, detections, class_ids=[0, 1, 2, 3, 9])
    assert ours["per_class"][9] == -1.0 and ours["per_class"][3] == -1.0
    assert {k: ours[k] for k in COCO_SUMMARY_KEYS} == {k: default[k] for k in COCO_SUMMARY_KEYS}


def test_coco_subset_of_categories_matches_pycocotools():
    _assert_matches_pycocotools(*_random_case(8, num_classes=4), class_ids=[1, 3])


def test_coco_perfect_detections_score_one():
    ground_truth, _ = _random_case(9, max_gt=6)
    detections = [
        {"boxes": g["boxes"], "classes": g["classes"], "scores": np.ones(len(g["classes"]))}
        for g in ground_truth
    ]
    ours = _assert_matches_pycocotools(ground_truth, detections)
    for key in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"):
        assert ours[key] == pytest.approx(1.0, abs=1e-12)
    assert all(v == pytest.approx(1.0) for v in ours["per_class"].values())


def test_coco_without_any_detection_or_ground_truth():
    # pycocotools's loadRes cannot take an empty result list; the answer follows from accumulate
    ground_truth = [{"boxes": [[0, 0, 10, 10], [0, 0, 50, 50]], "classes": [0, 1]}]
    ours = coco_map(ground_truth, [_empty_detections()])
    assert ours["AP"] == 0.0 and ours["AR100"] == 0.0 and ours["APl"] == -1.0
    assert ours["per_class"] == {0: 0.0, 1: 0.0}
    nothing = coco_map([{"boxes": [], "classes": []}], [_empty_detections()])
    assert all(nothing[k] == -1.0 for k in COCO_SUMMARY_KEYS) and nothing["per_class"] == {}
    assert coco_map([], [])["AP"] == -1.0


_grid_box = st.tuples(
    st.integers(0, 12), st.integers(0, 12), st.integers(0, 12), st.integers(0, 12)
).map(
    lambda v: [8 * min(v[0], v[2]), 8 * min(v[1], v[3]), 8 * max(v[0], v[2]), 8 * max(v[1], v[3])]
)
_image = st.tuples(
    st.lists(st.tuples(_grid_box, st.integers(0, 2), st.booleans()), max_size=5),
    st.lists(st.tuples(_grid_box, st.integers(0, 3), st.sampled_from([0.2, 0.5, 0.9])), max_size=8),
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(_image, min_size=1, max_size=3))
def test_coco_matches_pycocotools_on_grid_boxes(images):
    """Boxes on an 8-pixel grid: exact IoU ties with the thresholds and between boxes, areas on
    the range boundaries, degenerate boxes, tied scores, crowd boxes."""
    assume(any(dets for _, dets in images))
    ground_truth = [
        {
            "boxes": np.array([b for b, _, _ in gts], dtype=np.float64).reshape(-1, 4),
            "classes": [c for _, c, _ in gts],
            "iscrowd": [int(crowd) for _, _, crowd in gts],
        }
        for gts, _ in images
    ]
    detections = [
        {
            "boxes": np.array([b for b, _, _ in dets], dtype=np.float64).reshape(-1, 4),
            "classes": [c for _, c, _ in dets],
            "scores": [s for _, _, s in dets],
        }
        for _, dets in images
    ]
    _assert_matches_pycocotools(ground_truth, detections)


def test_coco_json_files_load_in_pycocotools_and_give_the_same_numbers(tmp_path):
    ground_truth, detections = _random_case(12, crowd_rate=0.2)
    gt_path, det_path = str(tmp_path / "gt.json"), str(tmp_path / "out" / "det.json")
    write_coco_json(ground_truth, detections, gt_path, det_path)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        evaluation = COCOeval(gt, gt.loadRes(det_path), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    ours = coco_map(ground_truth, detections)
    np.testing.assert_allclose(
        [ours[k] for k in COCO_SUMMARY_KEYS], evaluation.stats, rtol=0, atol=ATOL
    )
    assert sorted(os.listdir(tmp_path)) == ["gt.json", "out"]  # nothing left from the writes
    assert os.listdir(tmp_path / "out") == ["det.json"]


def test_coco_json_class_names(tmp_path):
    ground_truth, detections = _random_case(13, num_classes=3)
    paths = str(tmp_path / "gt.json"), str(tmp_path / "det.json")
    write_coco_json(ground_truth, detections, *paths, class_names=["a", "b", "c", "d"])
    with open(paths[0]) as f:
        categories = json.load(f)["categories"]
    assert categories == [{"id": i, "name": n} for i, n in enumerate("abcd")]
    write_coco_json(ground_truth, detections, *paths, class_names={0: "a", 1: "b", 2: "c"})
    with pytest.raises(ValueError, match="class_names"):
        write_coco_json(ground_truth, detections, *paths, class_names={0: "a"})


# ---------------------------------------------------------------------------------------------
# Streaming metric


def test_streaming_metric_equals_coco_map_and_resets():
    ground_truth, detections = _random_case(14, num_images=9)
    metric = COCOMeanAveragePrecision()
    for start in range(0, 9, 4):
        metric.update_state(ground_truth[start : start + 4], detections[start : start + 4])
    expected = coco_map(ground_truth, detections)
    assert metric.result() == {k: expected[k] for k in COCO_SUMMARY_KEYS}
    assert metric.detailed_result() == expected
    metric.reset_state()
    assert metric.result()["AP"] == -1.0


def test_streaming_metric_accepts_padded_batches():
    ground_truth, detections = _random_case(15, num_images=3, max_gt=4, max_det=6)

    def pad(images, keys, n):
        batch = {k: [] for k in keys}
        for image in images:
            rows = len(image["classes"])
            for k in keys:
                v = np.asarray(image[k], dtype=np.float64).reshape(rows, -1)
                filler = -np.ones((n - rows, v.shape[1]))
                batch[k].append(np.concatenate([v, filler]).squeeze(-1 if k != "boxes" else ()))
        return {k: tf.constant(np.stack(v)) for k, v in batch.items()}

    metric = COCOMeanAveragePrecision()
    metric.update_state(
        pad(ground_truth, ["boxes", "classes"], 5),
        pad(detections, ["boxes", "classes", "scores"], 7),
    )
    assert metric.result()["AP"] == coco_map(ground_truth, detections)["AP"]


def test_streaming_metric_refuses_graph_mode_and_round_trips_its_config():
    metric = COCOMeanAveragePrecision(class_ids=[0, 2], name="box_map")
    ground_truth, detections = _random_case(16, num_images=1)

    @tf.function
    def update():
        metric.update_state(ground_truth, detections)

    with pytest.raises(RuntimeError, match="eagerly"):
        update()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(restored, COCOMeanAveragePrecision)
    assert restored.get_config() == metric.get_config()
    assert restored.class_ids == [0, 2] and restored.name == "box_map"


# ---------------------------------------------------------------------------------------------
# Input errors


def _one_image(**changes):
    gt = {"boxes": [[0, 0, 10, 10]], "classes": [0]}
    det = {"boxes": [[0, 0, 10, 10]], "classes": [0], "scores": [0.5]}
    for key, value in changes.items():
        target = gt if key.startswith("gt_") else det
        name = key[3:] if key.startswith("gt_") else key[4:]
        if value is None:
            del target[name]
        else:
            target[name] = value
    return [gt], [det]


@pytest.mark.parametrize(
    "inputs, message",
    [
        (([{"boxes": [], "classes": []}], []), "one entry per image"),
        ((_one_image(gt_boxes=[[0, 0, 10]])[0], _one_image()[1]), r"ground_truth\[0\]\['boxes'\]"),
        (_one_image(det_boxes=[0, 0, 1, 1]), r"detections\[0\]\['boxes'\] must have shape"),
        (_one_image(det_scores=None), r"detections\[0\] is missing 'scores'"),
        (_one_image(det_scores=[np.nan]), r"\['scores'\] must be finite"),
        (_one_image(det_scores=[0.1, 0.2]), r"\['scores'\] must have shape \[1\]"),
        (_one_image(gt_boxes=[[10, 0, 5, 10]]), "negative size"),
        (_one_image(det_boxes=[[0, 10, 5, 2]]), r"detections\[0\]\['boxes'\]\[0\].*negative size"),
        (_one_image(gt_classes=[-1]), "integer ids >= 0"),
        (_one_image(gt_classes=[0.5]), "integer ids >= 0"),
        (_one_image(gt_area=[-1.0]), r"\['area'\] must be finite and >= 0"),
        (({"boxes": [], "classes": []}, []), "ground_truth must be a list"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_argument(inputs, message):
    for evaluate in (coco_map, voc_map):
        with pytest.raises(ValueError, match=message):
            evaluate(*inputs)


# ---------------------------------------------------------------------------------------------
# VOC


@pytest.mark.parametrize("use_11_point", [False, True])
@pytest.mark.parametrize("seed", [20, 21, 22])
def test_voc_matches_the_devkit_definition(seed, use_11_point):
    ground_truth, detections = _random_case(seed, num_images=10, tie_rate=0.5)
    rng = np.random.default_rng(seed)
    for g in ground_truth:
        g["difficult"] = rng.random(len(g["classes"])) < 0.2
    for threshold in (0.5, 0.7):
        ours = voc_map(ground_truth, detections, threshold, use_11_point)
        expected = {}
        for c in sorted({int(c) for g in ground_truth for c in g["classes"]}):
            ap = _voc_eval_devkit(ground_truth, detections, c, threshold, use_11_point)
            expected[c] = -1.0 if ap is None else ap
        assert ours["per_class"].keys() == expected.keys()
        np.testing.assert_allclose(
            list(ours["per_class"].values()), list(expected.values()), rtol=0, atol=1e-12
        )
        valid = [v for v in expected.values() if v != -1.0]
        assert ours["mAP"] == pytest.approx(np.mean(valid), abs=1e-12)


@pytest.mark.parametrize("use_11_point", [False, True])
def test_voc_matches_the_devkit_definition_on_the_adversarial_case(use_11_point):
    ground_truth, detections = _adversarial_case()  # IoU ties: the first box wins in VOC
    ours = voc_map(ground_truth, detections, use_11_point=use_11_point)["per_class"]
    for c, ap in ours.items():
        expected = _voc_eval_devkit(ground_truth, detections, c, 0.5, use_11_point)
        assert ap == pytest.approx(expected, abs=1e-12)


def test_voc_hand_computed():
    # Two objects; detections in score order: hit, miss, hit. Recall .5, .5, 1; precision
    # 1, .5, 2/3. All-point AP = .5 * 1 + .5 * 2/3; 11-point = (6 * 1 + 5 * 2/3) / 11.
    ground_truth = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "classes": [1, 1]}]
    detections = [
        {
            "boxes": [[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 31]],
            "classes": [1, 1, 1],
            "scores": [0.9, 0.8, 0.7],
        }
    ]
    assert voc_map(ground_truth, detections)["mAP"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert voc_map(ground_truth, detections, use_11_point=True)["mAP"] == pytest.approx(
        (6 + 5 * 2 / 3) / 11
    )
    # A duplicate is a false positive; a detection of a difficult box is neither.
    ground_truth[0]["difficult"] = [0, 1]
    detections[0]["boxes"][1] = [0, 0, 10, 10]
    assert voc_map(ground_truth, detections)["per_class"] == {1: pytest.approx(1.0)}


def test_voc_threshold_is_strict_where_coco_is_not():
    # IoU([0, 0, 2, 1], [0, 0, 1, 1]) is exactly 1/2.
    ground_truth = [{"boxes": [[0, 0, 1, 1]], "classes": [0]}]
    detections = [{"boxes": [[0, 0, 2, 1]], "classes": [0], "scores": [1.0]}]
    assert voc_map(ground_truth, detections)["mAP"] == 0.0
    assert coco_map(ground_truth, detections)["AP50"] == pytest.approx(1.0)  # 1 / (1 + eps)


def test_voc_plus_one_pixel_convention_by_shifting_the_far_corner():
    ground_truth, detections = _random_case(23, num_images=6)
    for image in ground_truth + detections:
        image["boxes"] = np.round(np.asarray(image["boxes"]).reshape(-1, 4))
    shift = lambda images: [{**i, "boxes": i["boxes"] + [0, 0, 1, 1]} for i in images]
    ours = voc_map(shift(ground_truth), shift(detections))["per_class"]
    for c, ap in ours.items():
        expected = _voc_eval_devkit(ground_truth, detections, c, 0.5, False, plus_one=True)
        assert ap == pytest.approx(expected, abs=1e-12)


def test_voc_class_without_positives_is_minus_one():
    ground_truth = [{"boxes": [[0, 0, 5, 5], [0, 0, 9, 9]], "classes": [0, 1], "difficult": [0, 1]}]
    detections = [{"boxes": [[0, 0, 5, 5]], "classes": [0], "scores": [0.4]}]
    result = voc_map(ground_truth, detections, class_ids=[0, 1, 2])
    assert result["per_class"] == {0: 1.0, 1: -1.0, 2: -1.0} and result["mAP"] == 1.0
