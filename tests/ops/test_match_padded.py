"""The padded batch matcher against a NumPy transcription of torchvision's ``Matcher``."""

import numpy as np

from yeehaw_tf.ops import IGNORE, NEGATIVE, match_padded


def _matcher_reference(iou, high, low):
    """torchvision.models.detection._utils.Matcher(high, low, allow_low_quality_matches=True)."""
    if iou.shape[1] == 0:
        return np.full(iou.shape[0], NEGATIVE)
    best, matches = iou.max(axis=1), iou.argmax(axis=1)
    result = matches.copy()
    result[best < low] = NEGATIVE
    result[(best >= low) & (best < high)] = IGNORE
    best_per_gt = iou.max(axis=0)
    rows = np.nonzero((iou == best_per_gt[None, :]) & (best_per_gt[None, :] > 0))[0]
    result[rows] = matches[rows]
    return result


def test_each_padded_image_matches_like_torchvision_on_its_valid_boxes():
    rng = np.random.default_rng(0)
    batch, anchors, slots = 4, 30, 5
    iou = rng.uniform(0, 1, size=(batch, anchors, slots)).astype(np.float32) ** 3
    counts = [5, 2, 0, 3]
    valid = np.arange(slots)[None, :] < np.array(counts)[:, None]
    ours = np.asarray(match_padded(iou, valid, 0.5, 0.4))
    for i, count in enumerate(counts):
        np.testing.assert_array_equal(ours[i], _matcher_reference(iou[i, :, :count], 0.5, 0.4))
    assert np.all(ours[2] == NEGATIVE)  # no objects: all background
