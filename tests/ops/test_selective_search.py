"""Selective search: the segmentation against scikit-image, the proposals on synthetic scenes."""

import numpy as np
import pytest

from tests.helpers import FLOAT32_ATOL
from yeehaw_tf.data.shapes_scenes import render_scene
from yeehaw_tf.ops.selective_search import (
    colour_space,
    graph_segmentation,
    proposal_recall,
    selective_search,
)


def _images():
    rng = np.random.default_rng(3)
    yield "shapes32", render_scene(rng, 32, 3).image
    yield "shapes64", render_scene(rng, 64, 4).image
    yield "noise 24x37", rng.integers(0, 256, (24, 37, 3)).astype(np.uint8)
    yield "grey", render_scene(rng, 32, 3).image[..., 1]
    yield "float32 hsv", colour_space(render_scene(rng, 32, 3).image, "hsv").astype(np.float32)
    yield "one row", rng.integers(0, 256, (1, 9, 3)).astype(np.uint8)


@pytest.mark.parametrize("name, image", list(_images()), ids=[n for n, _ in _images()])
@pytest.mark.parametrize("scale, sigma, min_size", [(50, 0.8, 10), (1, 0.5, 5), (300, 0.0, 0)])
def test_graph_segmentation_equals_skimage(name, image, scale, sigma, min_size):
    felzenszwalb = pytest.importorskip("skimage.segmentation").felzenszwalb
    ours = graph_segmentation(image, scale, sigma, min_size)
    axis = None if image.ndim == 2 else -1
    expected = felzenszwalb(image, scale=scale, sigma=sigma, min_size=min_size, channel_axis=axis)
    assert ours.shape == image.shape[:2]
    np.testing.assert_array_equal(ours, expected)


def test_colour_spaces_match_skimage():
    color = pytest.importorskip("skimage.color")
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    hsv = color.rgb2hsv(image)
    np.testing.assert_allclose(colour_space(image, "hsv"), hsv, atol=FLOAT32_ATOL)
    np.testing.assert_allclose(colour_space(image, "h")[..., 0], hsv[..., 0], atol=FLOAT32_ATOL)
    lab = (color.rgb2lab(image) + [0, 128, 128]) / [100, 255, 255]
    np.testing.assert_allclose(colour_space(image, "lab"), lab, atol=FLOAT32_ATOL)
    for name in ("rgb", "rgi", "i"):
        values = colour_space(image, name)
        assert values.min() >= 0 and values.max() <= 1


RECTANGLES = [(4, 6, 14, 20), (25, 3, 41, 11), (18, 28, 44, 44)]  # xyxy, far edges exclusive


def _rectangles(noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    image = np.zeros((48, 48, 3)) + [40.0, 90.0, 60.0]
    image += rng.normal(0, noise, image.shape)
    for (x1, y1, x2, y2), colour in zip(
        RECTANGLES, ([220, 30, 30], [30, 30, 230], [240, 220, 40]), strict=True
    ):
        image[y1:y2, x1:x2] = colour
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("mode, noise", [("single", 0.0), ("fast", 0.0), ("fast", 8.0)])
def test_every_rectangle_is_proposed_exactly(mode, noise):
    boxes = selective_search(_rectangles(noise), mode=mode, max_proposals=None)
    proposed = {tuple(b) for b in boxes.tolist()}
    for rectangle in RECTANGLES:
        assert rectangle in proposed
    assert (0, 0, 48, 48) in proposed  # the last merge: the whole image


def test_proposals_are_unique_boxes_inside_the_image():
    image = render_scene(np.random.default_rng(5), 64, 4).image[:, :50]  # not square
    everything = selective_search(image, max_proposals=None)
    assert everything.dtype == np.float32 and everything.shape[1] == 4
    assert len(np.unique(everything, axis=0)) == len(everything)
    x1, y1, x2, y2 = everything.T
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 50).all() and (y2 <= 64).all()
    assert (x2 > x1).all() and (y2 > y1).all()
    assert (everything == np.round(everything)).all()  # pixel edges
    capped = selective_search(image, max_proposals=20)
    np.testing.assert_array_equal(capped, everything[:20])  # the cap keeps the best ranked
    assert len(selective_search(image, max_proposals=10**6)) == len(everything)


def test_every_segment_and_merge_is_a_proposal():
    image = render_scene(np.random.default_rng(4), 32, 3).image
    labels = graph_segmentation(colour_space(image, "hsv"), 100, 0.8, 10)
    proposed = {tuple(b) for b in selective_search(image, mode="single", max_proposals=None)}
    segments = set()
    for k in range(labels.max() + 1):
        rows, cols = np.nonzero(labels == k)
        segments.add((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
    assert segments <= proposed  # the hierarchy starts from the segments...
    assert len(proposed) <= 2 * (labels.max() + 1) - 1  # ...and merges pairs of regions


def test_deterministic_given_the_seed():
    image = render_scene(np.random.default_rng(6), 64, 4).image
    first = selective_search(image, seed=7)
    np.testing.assert_array_equal(first, selective_search(image, seed=7))
    other = selective_search(image, seed=8)
    assert not np.array_equal(first, other)  # another ranking...
    assert {tuple(b) for b in first.tolist()} == {tuple(b) for b in other.tolist()}  # same boxes


def test_options_override_the_mode():
    image = _rectangles()
    one = selective_search(image, mode="single", max_proposals=None)
    same = selective_search(
        image, mode="fast", colour_spaces=("hsv",), scales=(100,), similarities=("CTSF",)
    )
    np.testing.assert_array_equal(one, same)
    for similarity in ("C", "T", "S", "F"):
        assert len(selective_search(image, mode="single", similarities=(similarity,))) > 0


def test_proposal_recall_hand_computed():
    proposals = [
        np.array([[0, 0, 10, 12], [20, 20, 25, 30]]),  # IoU 100/120 and exactly 0.5
        np.array([[2, 2, 6, 6]]),  # IoU 4/28 with its gt
        np.zeros((0, 4)),  # its gt box is missed
        np.array([[0, 0, 5, 5]]),  # no gt: counts nothing
    ]
    gt = [
        np.array([[0, 0, 10, 10], [20, 20, 30, 30]]),
        np.array([[0, 0, 4, 4]]),
        np.array([[1, 1, 3, 3]]),
        np.zeros((0, 4)),
    ]
    assert proposal_recall(proposals, gt) == pytest.approx(2 / 4)
    assert proposal_recall(proposals, gt, iou_threshold=0.6) == pytest.approx(1 / 4)
    assert proposal_recall(proposals, gt, iou_threshold=0.1) == pytest.approx(3 / 4)
    assert np.isnan(proposal_recall(proposals[3:], gt[3:]))


IMAGE = np.zeros((16, 16, 3), np.uint8)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: selective_search(IMAGE[..., 0]), "image must have shape"),
        (lambda: selective_search(np.zeros((16, 16, 4), np.uint8)), "image must have shape"),
        (lambda: selective_search(IMAGE.astype(np.float32)), "image must be uint8"),
        (lambda: selective_search(IMAGE[:1]), "at least 2 x 2"),
        (lambda: selective_search(IMAGE, mode="slow"), "mode must be one of"),
        (lambda: selective_search(IMAGE, max_proposals=0), "max_proposals"),
        (lambda: selective_search(IMAGE, max_proposals=2.5), "max_proposals"),
        (lambda: selective_search(IMAGE, min_size=0), "min_size"),
        (lambda: selective_search(IMAGE, scales=(0,)), "scales"),
        (lambda: selective_search(IMAGE, colour_spaces=("xyz",)), "colour_spaces"),
        (lambda: selective_search(IMAGE, similarities=("CX",)), "similarities"),
        (lambda: selective_search(IMAGE, similarities=("CC",)), "similarities"),
        (lambda: selective_search(IMAGE, similarities=()), "similarities"),
        (lambda: selective_search(IMAGE, sigma=-1.0), "sigma"),
        (lambda: graph_segmentation(IMAGE, scale=0), "scale must be a positive"),
        (lambda: graph_segmentation(IMAGE, scale=-5), "scale must be a positive"),
        (lambda: graph_segmentation(IMAGE, 10, sigma=-1), "sigma"),
        (lambda: graph_segmentation(IMAGE, 10, min_size=-1), "min_size"),
        (lambda: graph_segmentation(IMAGE, 10, min_size=2.5), "min_size"),
        (lambda: graph_segmentation(np.zeros((2, 2, 2, 3)), 10), "image must have shape"),
        (lambda: graph_segmentation(IMAGE.astype(bool), 10), "uint8 or floating"),
        (lambda: graph_segmentation(np.full((4, 4), np.nan), 10), "finite"),
        (lambda: colour_space(IMAGE, "xyz"), "colour space"),
        (lambda: proposal_recall([np.zeros((1, 4))], []), "one entry per image"),
        (lambda: proposal_recall([np.zeros((1, 3))], [np.zeros((1, 4))], 0.5), r"\[N, 4\]"),
        (lambda: proposal_recall([], [], iou_threshold=1.5), "iou_threshold"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()
