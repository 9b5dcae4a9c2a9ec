"""Export parity for detectors: matching an exported file's detections to Keras's, where NMS may
break a near-tie either way (IoUs below worked by hand)."""

import numpy as np
import pytest

from yeehaw_tf.export.detection import MATCH_SCORE, match_detections


def _outputs(boxes, scores, classes, slots=4):
    """One image's serving outputs, zero past ``num_detections`` (a list with room left)."""
    pad = slots - len(scores)
    return {
        "boxes": np.asarray([[*boxes, *[[0.0] * 4] * pad]], np.float32),
        "scores": np.asarray([[*scores, *[0.0] * pad]], np.float32),
        "classes": np.asarray([[*classes, *[0] * pad]], np.int64),
        "num_detections": np.asarray([len(scores)], np.int32),
    }


# A = [0, 0, .5, .5] (area .25); B = [0, 0, .5, .45] (area .225, inside A): IoU 0.9
A, B = [0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.45]
# C = [0, .25, .5, .75]: overlaps A by .125 of a union .375: IoU 1/3
C = [0.0, 0.25, 0.5, 0.75]


def test_the_same_detections_match_exactly():
    ref = _outputs([A, C], [0.9, 0.8], [1, 2])
    got = match_detections(ref, ref, 0.05, nms_iou=0.5)
    assert got == {
        "matched_min_iou": pytest.approx(1.0),
        "matched_max_score_diff": 0.0,
        "unmatched": 0,
        "tie_swaps": 0,
    }


def test_nms_keeping_the_other_box_of_a_near_tie_is_a_tie_swap():
    ref = _outputs([A], [0.9], [1])
    got = _outputs([B], [0.9 - MATCH_SCORE / 2], [1])  # B suppressed A: IoU 0.9 > 0.5
    result = match_detections(got, ref, 0.05, nms_iou=0.5)
    assert result["tie_swaps"] == 1 and result["matched_min_iou"] == 1.0
    # without the NMS threshold it is a mismatch at IoU 0.9
    assert match_detections(got, ref, 0.05)["matched_min_iou"] == pytest.approx(0.9, abs=1e-6)


def test_a_clear_score_gap_or_a_box_nms_would_keep_is_a_mismatch():
    ref = _outputs([A], [0.9], [1])
    gap = match_detections(_outputs([B], [0.8], [1]), ref, 0.05, nms_iou=0.5)
    assert gap["tie_swaps"] == 0
    assert gap["matched_min_iou"] == pytest.approx(0.9, abs=1e-6)
    apart = match_detections(_outputs([C], [0.9], [1]), ref, 0.05, nms_iou=0.5)  # IoU 1/3
    assert apart["tie_swaps"] == 0
    assert apart["matched_min_iou"] == pytest.approx(1 / 3, abs=1e-6)
    other_class = match_detections(_outputs([A], [0.9], [2]), ref, 0.05, nms_iou=0.5)
    assert other_class["unmatched"] == 1


def test_boxes_at_the_nms_threshold_itself_are_a_tie_float_rounding_decides():
    # D = [0, 0, .5, .25] lies inside A with half its area: IoU exactly 0.5 (whole-pixel
    # proposals give such pairs); whether NMS keeps the second is a rounding of 0.5
    d = [0.0, 0.0, 0.5, 0.25]
    ref = _outputs([A, d], [0.9, 0.9], [1, 1])
    got = _outputs([A], [0.9], [1])  # the file's NMS suppressed D
    result = match_detections(got, ref, 0.05, nms_iou=0.5)
    assert result["tie_swaps"] == 1 and result["matched_min_iou"] == pytest.approx(1.0)
    # clearly below the threshold (IoU 0.4, inside A: [0, 0, .5, .2]) it is a mismatch
    e = [0.0, 0.0, 0.5, 0.2]
    below = match_detections(got, _outputs([A, e], [0.9, 0.9], [1, 1]), 0.05, nms_iou=0.5)
    assert below["tie_swaps"] == 0 and below["matched_min_iou"] == pytest.approx(0.4, abs=1e-6)
