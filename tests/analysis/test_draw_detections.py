"""draw_detections: boxes, labels and masks land on the right pixels and nowhere else; score
threshold, box formats, grey images, PNG output and refused inputs."""

import numpy as np
import pytest
from PIL import Image

from yeehaw_tf.analysis.plots import draw_detections

H, W = 60, 80


def _image(channels=3):
    return np.random.default_rng(0).integers(0, 256, (H, W, channels), dtype=np.uint8)


# one box at columns 20..49, rows 30..54 (far edges 50, 55): its label sits above it, from
# column 20 rightwards, so rows >= 55 and columns < 20 stay untouched
BOX = [20.0, 30.0, 50.0, 55.0]


def _edge_pixels(out, box, width=2):
    x1, y1, x2, y2 = (int(v) for v in box)
    return np.concatenate(
        [
            out[y1 : y1 + width, x1:x2].reshape(-1, 3),
            out[y2 - width : y2, x1:x2].reshape(-1, 3),
            out[y1:y2, x1 : x1 + width].reshape(-1, 3),
            out[y1:y2, x2 - width : x2].reshape(-1, 3),
        ]
    )


def test_box_edges_take_one_colour_and_far_pixels_are_unchanged():
    image = _image()
    before = image.copy()
    out = draw_detections(image, [BOX], [3], [0.9])
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(image, before)  # the input is not modified
    colours = np.unique(_edge_pixels(out, BOX), axis=0)
    assert len(colours) == 1
    x1, y1, x2, y2 = (int(v) for v in BOX)
    assert np.any(image[y1 : y1 + 2, x1:x2] != colours[0])
    np.testing.assert_array_equal(
        out[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2], image[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2]
    )
    np.testing.assert_array_equal(out[y2:], image[y2:])
    np.testing.assert_array_equal(out[:, :x1], image[:, :x1])
    # just outside the box's right edge, below the label: untouched
    np.testing.assert_array_equal(out[y1:y2, x2:], image[y1:y2, x2:])
    # the label: a filled band above the box, in the box's colour, with text on it
    label = out[y1 - 14 : y1, x1 : x1 + 30].reshape(-1, 3)
    assert np.mean(np.all(label == colours[0], axis=1)) > 0.5
    assert len(np.unique(label, axis=0)) > 1


def test_masks_tint_only_their_own_pixels_with_one_colour_per_instance():
    image = _image()
    boxes = [[5.0, 20.0, 35.0, 58.0], [45.0, 20.0, 75.0, 58.0]]
    masks = np.zeros((2, H, W), bool)
    masks[0, 25:45, 10:30] = True
    masks[1, 30:50, 50:70] = True
    out = draw_detections(image, boxes, [0, 1], [0.8, 0.7], masks=masks, mask_alpha=0.5)
    colours = [np.unique(_edge_pixels(out, b), axis=0) for b in boxes]
    assert all(len(c) == 1 for c in colours)
    assert not np.array_equal(colours[0], colours[1])
    for mask, colour in zip(masks, colours, strict=True):
        expected = np.round(0.5 * image[mask] + 0.5 * colour[0].astype(np.float64))
        np.testing.assert_array_equal(out[mask], expected.astype(np.uint8))
    # inside the boxes but outside the masks: untouched
    np.testing.assert_array_equal(out[47:55, 8:32], image[47:55, 8:32])
    np.testing.assert_array_equal(out[23:30, 48:72], image[23:30, 48:72])
    # probabilities are thresholded at 0.5: the same picture
    soft = np.where(masks, 0.9, 0.2)
    np.testing.assert_array_equal(
        draw_detections(image, boxes, [0, 1], [0.8, 0.7], masks=soft, mask_alpha=0.5), out
    )


def test_score_threshold_hides_low_scores():
    image = _image()
    low = [50.0, 35.0, 75.0, 58.0]
    both = draw_detections(image, [BOX, low], [0, 1], [0.9, 0.2], score_threshold=0.5)
    only_high = draw_detections(image, [BOX], [0], [0.9])
    np.testing.assert_array_equal(both, only_high)
    np.testing.assert_array_equal(both[35:58, 50:75], image[35:58, 50:75])
    shown = draw_detections(image, [BOX, low], [0, 1], [0.9, 0.2], score_threshold=0.2)
    assert np.any(shown[35:58, 50:75] != image[35:58, 50:75])
    nothing = draw_detections(image, [BOX], [0], [0.9], score_threshold=0.95)
    np.testing.assert_array_equal(nothing, image)


def test_box_formats_and_class_names():
    image = _image()
    want = draw_detections(image, [BOX], [1], [0.5])
    x1, y1, x2, y2 = BOX
    for fmt, box in (
        ("xywh", [x1, y1, x2 - x1, y2 - y1]),
        ("center_xywh", [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]),
        ("yxyx", [y1, x1, y2, x2]),
        ("rel_xyxy", [x1 / W, y1 / H, x2 / W, y2 / H]),
    ):
        np.testing.assert_array_equal(
            draw_detections(image, [box], [1], [0.5], box_format=fmt), want
        )
    named = draw_detections(image, [BOX], [1], [0.5], class_names=("cat", "dog"))
    assert np.any(named[16:30] != want[16:30])  # a different label text
    np.testing.assert_array_equal(named[30:], want[30:])  # the same box


def test_grey_images_empty_detections_and_boxes_off_the_image():
    grey = _image(1)
    out = draw_detections(grey, np.zeros((0, 4)), [], [])
    np.testing.assert_array_equal(out, np.repeat(grey, 3, axis=-1))
    out = draw_detections(
        grey, [[-30.0, -30.0, -5.0, -5.0], [100.0, 0.0, 120.0, 10.0]], [0, 0], [1, 1]
    )
    np.testing.assert_array_equal(out, np.repeat(grey, 3, axis=-1))
    partly = draw_detections(grey, [[-10.0, -10.0, 30.0, 30.0]], [0], [1.0])
    assert np.any(partly[:30, :30] != np.repeat(grey, 3, axis=-1)[:30, :30])


def test_writes_a_png_atomically(tmp_path):
    path = tmp_path / "out" / "detections.png"
    out = draw_detections(_image(), [BOX], [0], [0.9], path=str(path))
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.size == (W, H)
        np.testing.assert_array_equal(np.asarray(picture.convert("RGB")), out)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["detections.png"]


@pytest.mark.parametrize(
    "change, match",
    [
        ({"image": np.zeros((H, W, 3), np.float32)}, "image must be uint8"),
        ({"image": np.zeros((H, W), np.uint8)}, "image must be uint8"),
        ({"image": np.zeros((H, W, 4), np.uint8)}, "image must be uint8"),
        ({"boxes": [[0.0, 0.0, 1.0]]}, r"boxes must be \[N, 4\]"),
        ({"classes": [0, 1]}, "classes and scores"),
        ({"scores": []}, "classes and scores"),
        ({"classes": [-1]}, "integers >= 0"),
        ({"classes": [0.5]}, "integers >= 0"),
        ({"boxes": [[0.0, np.nan, 1.0, 1.0]]}, "finite"),
        ({"masks": np.zeros((1, H, W + 1), bool)}, r"masks must be \[N, H, W\]"),
        ({"class_names": ("a",), "classes": [1]}, "no name"),
        ({"box_format": "ltrb"}, "must be one of"),
        ({"line_width": 0}, "line_width"),
        ({"mask_alpha": 1.5}, "mask_alpha"),
    ],
)
def test_bad_inputs_are_refused(change, match):
    arguments = {"image": _image(), "boxes": [BOX], "classes": [0], "scores": [0.9], **change}
    with pytest.raises(ValueError, match=match):
        draw_detections(**arguments)
