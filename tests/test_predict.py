"""The serving tool ``python -m yeehaw_tf.predict`` on tiny exports of each task, built here.

The models have chosen weights so their answers are known: the classifier and the segmenter
pick an image's (a pixel's) dominant colour among red, green and blue; the detector returns
fixed boxes whatever the image."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
from PIL import Image

from tests.helpers import run_cli
from yeehaw_tf import predict as serving
from yeehaw_tf.export.detection import detection_spec
from yeehaw_tf.export.exporter import export_spec
from yeehaw_tf.export.spec import probabilities_spec

SIZE = 16
COLOURS = ["red", "green", "blue"]
# the detector's fixed output: 3 detections in 4 slots (relative [ymin, xmin, ymax, xmax])
BOXES = np.array(
    [[0.1, 0.2, 0.5, 0.6], [0.25, 0.25, 0.75, 0.75], [0.0, 0.5, 0.2, 1.0], [0, 0, 0, 0]],
    np.float32,
)
SCORES = np.array([0.9, 0.6, 0.2, 0.0], np.float32)
CLASSES = np.array([1, 0, 1, 0], np.int64)
COUNT = 3
SHAPES = ["circle", "square"]


def _colour_model(per_pixel: bool) -> keras.Model:
    """Logits ``10 * colour / 255`` per image (mean colour) or per pixel."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    conv = keras.layers.Conv2D(3, 1)
    x = conv(x)
    if not per_pixel:
        x = keras.layers.GlobalAveragePooling2D()(x)
        dense = keras.layers.Dense(3)
        x = dense(x)
        dense.set_weights([10 * np.eye(3, dtype=np.float32), np.zeros(3, np.float32)])
        conv.set_weights([np.eye(3, dtype=np.float32)[None, None], np.zeros(3, np.float32)])
    else:
        conv.set_weights([10 * np.eye(3, dtype=np.float32)[None, None], np.zeros(3, np.float32)])
    return keras.Model(inputs, x)


def _images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8)


def _stripes(height: int, width: int) -> np.ndarray:
    """Top half red, then a quarter green, a quarter blue."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, :, 0] = 255
    image[height // 2 : 3 * height // 4, :, 1] = 255
    image[3 * height // 4 :, :, 2] = 255
    return image


def _export(spec, path) -> str:
    export_spec(spec, str(path), formats=("saved_model", "tflite"), quantizations=("float32",))
    return str(path)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    model = _colour_model(per_pixel=False)
    images = _images(8)
    spec = probabilities_spec(
        model,
        images=images,
        labels=np.argmax(images.mean(axis=(1, 2)), axis=-1),
        representative_images=images,
        metadata={"task": "classification", "class_names": COLOURS},
    )
    return model, _export(spec, tmp_path_factory.mktemp("classifier") / "export")


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory):
    model = _colour_model(per_pixel=True)
    images = _images(4)
    spec = probabilities_spec(
        model,
        images=images,
        labels=np.argmax(images, axis=-1),
        representative_images=images,
        metadata={"task": "segmentation", "class_names": COLOURS},
    )
    return model, _export(spec, tmp_path_factory.mktemp("segmenter") / "export")


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    import tensorflow as tf

    inputs = keras.Input((SIZE, SIZE, 3))
    model = keras.Model(
        inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(inputs))
    )

    def serve(images):
        # the model's output, times 0, keeps it in the graph; the detections are fixed
        zero = 0.0 * tf.reduce_sum(model(tf.cast(images, tf.float32)), axis=-1)
        n = tf.shape(images)[0]

        def tiled(x):
            return tf.tile(tf.constant(x)[None], [n, *[1] * x.ndim])

        return {
            "boxes": tiled(BOXES) + zero[:, None, None],
            "scores": tiled(SCORES) + zero[:, None],
            "classes": tiled(CLASSES),
            "num_detections": tf.fill([n], tf.constant(COUNT, tf.int32)),
        }

    images = _images(4)
    spec = detection_spec(
        model,
        serve,
        images=images,
        gt_boxes=np.repeat(BOXES[None, :COUNT], len(images), axis=0),
        gt_classes=np.repeat(CLASSES[None, :COUNT], len(images), axis=0),
        representative_images=images,
        class_ids=[0, 1],
        metadata={"task": "detection", "class_names": SHAPES, "box_format": "rel_yxyx"},
    )
    return model, _export(spec, tmp_path_factory.mktemp("detector") / "export")


def _write(path, image: np.ndarray) -> str:
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
    return str(path)


def _argv(model_dir, image, *extra) -> list[str]:
    return [str(a) for a in ("--model_dir", model_dir, "--image", image, *extra)]


def _run(capsys, model_dir, image, *extra) -> str:
    """``main``'s standard output for ``--model_dir model_dir --image image EXTRA...``."""
    assert serving.main(_argv(model_dir, image, *extra)) == 0
    return capsys.readouterr().out


def _error(capsys, model_dir, image, *extra) -> str:
    """``main``'s error message: it must exit 2 (argparse's usage error), no traceback."""
    with pytest.raises(SystemExit) as raised:
        serving.main(_argv(model_dir, image, *extra))
    assert raised.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


def _softmax(model, images) -> np.ndarray:
    return keras.ops.convert_to_numpy(keras.ops.softmax(model(images.astype(np.float32))))


def _readable_png(path) -> np.ndarray:
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        return np.asarray(picture.convert("RGB"))


# ----------------------------------------------------------------------------- classification
def test_classification_prints_the_top_classes_and_writes_a_titled_image(
    classifier, tmp_path, capsys
):
    model, export_dir = classifier
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[..., 1] = 200  # green
    image[..., 2] = 100
    out = tmp_path / "annotated.png"
    printed = _run(capsys, export_dir, _write(tmp_path / "x.png", image), "--out", out)
    expected = _softmax(model, image[None])[0]
    assert "note:" not in printed
    lines = [line.split() for line in printed.splitlines() if line.startswith("  ")]
    order = np.argsort(-expected)
    assert [line[1] for line in lines] == [COLOURS[i] for i in order] == ["green", "blue", "red"]
    np.testing.assert_allclose([float(line[2]) for line in lines], expected[order], atol=1e-4)
    assert _readable_png(out).shape[0] > SIZE


def test_classification_tflite_gives_the_saved_models_result(classifier):
    _, export_dir = classifier
    image = _images(1, seed=3)[0]
    saved = serving.predict(export_dir, image)
    tflite = serving.predict(export_dir, image, model="model_float32.tflite")
    assert (saved["model"], tflite["model"]) == ("saved_model", "model_float32.tflite")
    np.testing.assert_allclose(
        tflite["outputs"]["probabilities"], saved["outputs"]["probabilities"], atol=1e-5
    )
    assert [t["class"] for t in tflite["top"]] == [t["class"] for t in saved["top"]]
    # a short name picks the same file
    assert serving.predict(export_dir, image, model="float32")["model"] == "model_float32.tflite"


def test_grey_and_wrongly_sized_images_are_converted_with_notes(classifier, tmp_path, capsys):
    model, export_dir = classifier
    grey = np.full((40, 24, 1), 180, np.uint8)
    out = tmp_path / "g_out.png"
    printed = _run(capsys, export_dir, _write(tmp_path / "g.png", grey), "--out", out)
    assert "note: converted the grey image to RGB" in printed
    assert "note: resized the image from 40x24 to 16x16" in printed
    result = serving.predict(export_dir, grey)
    expected = _softmax(model, np.full((1, SIZE, SIZE, 3), 180, np.uint8))[0]
    np.testing.assert_allclose(result["outputs"]["probabilities"], expected, atol=1e-5)


def test_model_choice_defaults_to_tflite_without_a_saved_model(classifier, tmp_path):
    _, export_dir = classifier
    copy = str(tmp_path / "tflite_only")
    shutil.copytree(export_dir, copy, ignore=shutil.ignore_patterns("saved_model"))
    assert serving.choose_model(copy) == "model_float32.tflite"
    assert serving.choose_model(export_dir) == "saved_model"
    assert serving.choose_model(export_dir, os.path.join(export_dir, "saved_model/")) == (
        "saved_model"
    )
    with pytest.raises(serving.PredictError, match="has no model_int8.tflite"):
        serving.choose_model(export_dir, "int8")
    with pytest.raises(serving.PredictError, match="has no saved_model"):
        serving.choose_model(copy, "saved_model")
    with pytest.raises(serving.PredictError, match="must be one of"):
        serving.choose_model(export_dir, "model.h5")
    with pytest.raises(serving.PredictError, match="must be a file of the export directory"):
        serving.choose_model(export_dir, str(tmp_path / "elsewhere" / "saved_model"))


def test_classes_without_names_are_numbered_and_out_defaults_to_the_image_name(
    classifier, tmp_path, capsys, monkeypatch
):
    # the classification task's own metadata has num_classes but no class_names
    _, export_dir = classifier
    copy = str(tmp_path / "unnamed")
    shutil.copytree(export_dir, copy)
    path = os.path.join(copy, "metadata.json")
    with open(path) as f:
        metadata = json.load(f)
    del metadata["class_names"]
    with open(path, "w") as f:
        json.dump({**metadata, "num_classes": 3}, f)
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[..., 2] = 255
    monkeypatch.chdir(tmp_path)
    printed = _run(capsys, copy, _write(tmp_path / "sky.png", image))
    assert "  1. class 2" in printed
    assert "wrote sky_prediction.png" in printed
    _readable_png(tmp_path / "sky_prediction.png")


# ----------------------------------------------------------------------------- segmentation
def test_segmentation_prints_pixel_shares_and_writes_an_overlay(segmenter, tmp_path, capsys):
    _, export_dir = segmenter
    out = tmp_path / "overlay.png"
    image = _stripes(SIZE, SIZE)
    printed = _run(capsys, export_dir, _write(tmp_path / "s.png", image), "--out", out)
    shares = {
        line.split()[0]: float(line.split()[1].rstrip("%"))
        for line in printed.splitlines()
        if line.startswith("  ")
    }
    assert shares == {"red": 50.0, "green": 25.0, "blue": 25.0}
    assert _readable_png(out).shape[0] > SIZE
    result = serving.predict(export_dir, image)
    np.testing.assert_array_equal(result["class_map"], np.argmax(image, axis=-1))
    # the overlay: half the image, half the class's colour
    blended = serving.overlay(image, result["class_map"])
    palette = serving.class_palette(3).astype(np.float64)
    want = np.round(0.5 * image + 0.5 * palette[np.argmax(image, axis=-1)]).astype(np.uint8)
    np.testing.assert_array_equal(blended, want)


def test_segmentation_of_a_larger_image_is_mapped_back_to_its_size(segmenter, capsys):
    _, export_dir = segmenter
    image = _stripes(64, 32)
    result = serving.predict(export_dir, image, model="model_float32.tflite")
    assert any("resized the image from 64x32 to 16x16" in note for note in result["notes"])
    assert result["class_map"].shape == (64, 32)
    # the stripes survive; only rows near their borders may change class
    wrong = np.mean(result["class_map"] != np.argmax(image, axis=-1))
    assert wrong <= 4 / 64
    saved = serving.predict(export_dir, image)
    np.testing.assert_allclose(
        result["outputs"]["probabilities"], saved["outputs"]["probabilities"], atol=1e-4
    )
    np.testing.assert_array_equal(result["class_map"], saved["class_map"])


# ----------------------------------------------------------------------------- detection
def _detections(printed: str) -> list:
    rows = []
    for line in printed.splitlines():
        if line.startswith("  "):
            name, score, box = line.split(maxsplit=2)
            rows.append((name, float(score), [float(v) for v in box.strip("[]").split(",")]))
    return rows


def test_detection_prints_boxes_in_pixels_of_the_original_image(detector, tmp_path, capsys):
    _, export_dir = detector
    height, width = 32, 48  # not the model's 16x16
    image = _images(1, seed=5)[0]
    big = np.asarray(Image.fromarray(image).resize((width, height)))
    out = tmp_path / "boxes.png"
    printed = _run(capsys, export_dir, _write(tmp_path / "d.jpg", big), "--out", out)
    assert "note: resized the image from 32x48 to 16x16" in printed
    assert "2 detections scoring >= 0.30 (of 3)" in printed
    rows = _detections(printed)
    assert [(name, score) for name, score, _ in rows] == [("square", 0.9), ("circle", 0.6)]
    scale = np.array([height, width, height, width])
    for (_, _, box), yxyx in zip(rows, BOXES[:2] * scale, strict=True):
        np.testing.assert_allclose(box, yxyx[[1, 0, 3, 2]], atol=0.05)
    # the first box, by hand: x from 0.2 * 48 to 0.6 * 48, y from 0.1 * 32 to 0.5 * 32
    np.testing.assert_allclose(rows[0][2], [9.6, 3.2, 28.8, 16.0], atol=0.05)
    drawn = _readable_png(out)
    assert drawn.shape == (height, width, 3)
    assert not np.array_equal(drawn, big)  # something was drawn
    # a lower threshold shows the third
    result = serving.predict(export_dir, big, min_score=0.1)
    assert [d["name"] for d in result["detections"]] == ["square", "circle", "square"]
    np.testing.assert_allclose(
        result["detections"][2]["box"], [0.5 * width, 0.0, width, 0.2 * height], atol=1e-4
    )


def test_detection_tflite_gives_the_saved_models_result(detector):
    _, export_dir = detector
    image = _images(1, seed=7)[0]
    saved = serving.predict(export_dir, image)
    tflite = serving.predict(export_dir, image, model="model_float32.tflite")
    assert len(saved["detections"]) == 2
    for a, b in zip(saved["detections"], tflite["detections"], strict=True):
        assert a["class"] == b["class"]
        np.testing.assert_allclose(a["score"], b["score"], atol=1e-6)
        np.testing.assert_allclose(a["box"], b["box"], atol=1e-4)


def test_the_command_line_runs_as_a_module(detector, tmp_path):
    _, export_dir = detector
    path = _write(tmp_path / "in.png", _images(1)[0])
    out = str(tmp_path / "out.png")
    argv = _argv(export_dir, path, "--model", "model_float32.tflite", "--out", out)
    done = run_cli("-m", "yeehaw_tf.predict", *argv, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "detection with model_float32.tflite" in done.stdout
    assert f"wrote {out}" in done.stdout
    _readable_png(out)


# ----------------------------------------------------------------------------- errors
def test_an_unreadable_image_is_refused_naming_it(classifier, tmp_path, capsys):
    _, export_dir = classifier
    missing = tmp_path / "missing.png"
    assert f"image '{missing}' does not exist" in _error(capsys, export_dir, missing)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert f"'{text}' is not an image" in _error(capsys, export_dir, text)
    truncated = tmp_path / "cut.png"
    _write(truncated, _images(1)[0])
    truncated.write_bytes(truncated.read_bytes()[:60])
    assert f"cannot read image '{truncated}'" in _error(capsys, export_dir, truncated)
    assert "is a directory" in _error(capsys, export_dir, tmp_path)


def test_the_command_line_exits_2_without_a_traceback_on_a_missing_image(classifier, tmp_path):
    _, export_dir = classifier
    missing = str(tmp_path / "missing.jpg")
    done = run_cli("-m", "yeehaw_tf.predict", *_argv(export_dir, missing), timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"error: image '{missing}' does not exist" in done.stderr


def test_a_directory_without_metadata_says_what_is_expected(tmp_path, capsys):
    image = _write(tmp_path / "x.png", _images(1)[0])
    err = _error(capsys, tmp_path, image)
    assert f"'{tmp_path}' has no metadata.json" in err
    assert "export directory" in err and "saved_model" in err
    assert "is not a directory" in _error(capsys, tmp_path / "nope", image)
    (tmp_path / "metadata.json").write_text('{"task": "generation"}')
    assert "task must be one of" in _error(capsys, tmp_path, image)


def test_images_are_read_and_fitted_to_the_models_channels(tmp_path):
    rgba = np.zeros((5, 7, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 128
    read = serving.read_image(_write(tmp_path / "a.png", rgba))
    assert read.shape == (5, 7, 4)
    fitted, notes = serving.prepare_image(read, (5, 7, 3))
    assert fitted.shape == (5, 7, 3) and notes == ["dropped the image's alpha channel"]
    grey = serving.read_image(_write(tmp_path / "g.png", np.zeros((3, 4, 1), np.uint8)))
    assert grey.shape == (3, 4, 1)
    grey, notes = serving.to_channels(np.full((2, 2, 3), [100, 200, 50], np.uint8), 1)
    assert grey.shape == (2, 2, 1) and np.all(grey == 153)  # 0.299*100 + 0.587*200 + 0.114*50
    assert "to grey" in notes[0]
    with pytest.raises(serving.PredictError, match="must be uint8"):
        serving.to_channels(np.zeros((4, 4, 3), np.float32), 3)
