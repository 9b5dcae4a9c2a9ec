"""Command line: ``python -m yeehaw_tf.predict --model_dir EXPORT_DIR --image PATH [--out PATH]
[--model FILE] [--min_score S]``: runs an exported model on one image, prints the result and
writes an annotated PNG.

Everything comes from the export directory (written by
:func:`yeehaw_tf.export.exporter.export_spec`): ``metadata.json`` says the task, the class names
and the input signature; the model is ``saved_model/`` (default) or one of the
``model_<quantization>.tflite`` files, run in LiteRT. Per task:

- classification: the top-5 classes with their probabilities; the image titled with the best;
- segmentation: the share of the image's pixels per class; the class map over the image
  (alpha 0.5, one colour per class) with a legend;
- detection: one line per detection scoring at least ``--min_score``: class, score and box in
  pixels of the original image; the boxes and labels drawn on it. Models that serve ``masks``
  (Mask R-CNN: ``[K, M, M]`` in box coordinates) get each mask pasted into the original image,
  drawn, and its pixel count printed. Models that take region proposals as a second input
  (R-CNN, Fast R-CNN: ``inputs`` has ``proposals`` and ``metadata.json`` a ``proposals``
  entry naming the method) get them from selective search on the resized image, as in
  training.

An image whose size differs from the model's input is resized (bilinear, antialiased, as the
training pipeline resizes) with a note; class maps and boxes are mapped back to the original
size. Grey images are repeated to RGB (and RGB turned to grey, ITU-R 601 luma) to match the
model's channels; an alpha channel is dropped.

The library functions (:func:`read_image`, :func:`predict`, :class:`Predictor`,
:func:`format_result`, :func:`annotate`) read no flags; :func:`main` parses the arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

TASKS = ("classification", "segmentation", "detection")
# one per yeehaw_tf.export.tflite.QUANTIZATIONS (spelled out here: importing it imports TF)
TFLITE_FILES = tuple(f"model_{q}.tflite" for q in ("float32", "float16", "dynamic", "int8"))
MODEL_FILES = ("saved_model", *TFLITE_FILES)
TASK_OUTPUTS = {
    "classification": ("probabilities", "classes"),
    "segmentation": ("probabilities", "classes"),
    "detection": ("boxes", "scores", "classes", "num_detections"),
}
TOP_K = 5
DEFAULT_MIN_SCORE = 0.3
MASK_ALPHA = 0.5
EXPECTED = (
    "an export directory written by yeehaw_tf.export (train.py or python -m export) holds "
    "metadata.json (task, class_names, inputs, outputs) and saved_model/ and/or "
    "model_<quantization>.tflite"
)


class PredictError(ValueError):
    """A problem with what the user gave (the export directory, the image, an option): the
    message says what and where; the command line shows it without a traceback."""


# ----------------------------------------------------------------------------- the export
def load_metadata(model_dir: str) -> dict:
    """``model_dir/metadata.json``, checked: a known ``task``, a uint8 ``images`` input
    ``[batch, H, W, C]`` and the task's outputs."""
    if not os.path.isdir(model_dir):
        raise PredictError(f"model_dir {model_dir!r} is not a directory; {EXPECTED}")
    path = os.path.join(model_dir, "metadata.json")
    if not os.path.isfile(path):
        raise PredictError(f"{model_dir!r} has no metadata.json; {EXPECTED}")
    try:
        with open(path) as f:
            metadata = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PredictError(f"cannot read {path!r}: {e}") from e
    if not isinstance(metadata, dict):
        raise PredictError(f"{path!r} must hold a JSON object; {EXPECTED}")
    task = metadata.get("task")
    if task not in TASKS:
        raise PredictError(
            f"{path!r}: task must be one of {', '.join(TASKS)}, got {task!r} (this tool serves "
            "image classifiers, segmenters and detectors)"
        )
    images = (metadata.get("inputs") or {}).get("images") or {}
    shape = images.get("shape")
    if (
        images.get("dtype") != "uint8"
        or not isinstance(shape, list)
        or len(shape) != 4
        or shape[-1] not in (1, 3)
    ):
        raise PredictError(
            f"{path!r}: inputs must be {{'images': {{'dtype': 'uint8', 'shape': [null, H, W, C]}}}}"
            f" with C 1 or 3, got {metadata.get('inputs')!r}"
        )
    missing = sorted(set(TASK_OUTPUTS[task]) - set(metadata.get("outputs") or ()))
    if missing:
        raise PredictError(
            f"{path!r}: a {task} export has outputs {list(TASK_OUTPUTS[task])}; "
            f"{missing} missing from {metadata.get('outputs')!r}"
        )
    if task == "detection" and metadata.get("box_format", "rel_yxyx") != "rel_yxyx":
        raise PredictError(
            f"{path!r}: box_format must be 'rel_yxyx', got {metadata.get('box_format')!r}"
        )
    names = metadata.get("class_names") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PredictError(f"{path!r}: class_names must be a list of strings, got {names!r}")
    return metadata


def available_models(model_dir: str) -> list[str]:
    """The model files of ``model_dir``, in :data:`MODEL_FILES` order."""
    found = []
    for name in MODEL_FILES:
        path = os.path.join(model_dir, name)
        if os.path.isdir(path) if name == "saved_model" else os.path.isfile(path):
            found.append(name)
    return found


def choose_model(model_dir: str, model: str | None = None) -> str:
    """The file name (in ``model_dir``) to run: ``model`` (a name from :data:`MODEL_FILES`,
    a quantization such as ``int8``, or a path to one of them inside ``model_dir``), by default
    ``saved_model`` if present, else ``model_float32.tflite``."""
    found = available_models(model_dir)
    if model is None:
        for default in ("saved_model", "model_float32.tflite"):
            if default in found:
                return default
        raise PredictError(
            f"{model_dir!r} has neither saved_model/ nor model_float32.tflite"
            + (f"; choose one of {found} with --model" if found else f"; {EXPECTED}")
        )
    name = model.rstrip("/" + os.sep)
    folder = os.path.dirname(name)
    if folder and os.path.realpath(folder) != os.path.realpath(model_dir):
        raise PredictError(
            f"--model {model!r} must be a file of the export directory {model_dir!r}"
        )
    name = os.path.basename(name)
    if f"model_{name}.tflite" in MODEL_FILES:
        name = f"model_{name}.tflite"
    if name not in MODEL_FILES:
        raise PredictError(f"--model must be one of {', '.join(MODEL_FILES)}, got {model!r}")
    if name not in found:
        raise PredictError(
            f"{model_dir!r} has no {name}; it has {', '.join(found) if found else 'no model file'}"
        )
    return name


def load_model(model_dir: str, name: str):
    """``fn(images=uint8 [N, H, W, C]) -> {output: array}`` for the file ``name``."""
    path = os.path.join(model_dir, name)
    try:
        if name == "saved_model":
            from yeehaw_tf.export.saved_model import ServingModel

            return ServingModel(path)
        from yeehaw_tf.export.tflite import TFLiteModel

        with open(path, "rb") as f:
            return TFLiteModel(f.read())
    except Exception as e:  # any failure to load: the file is not what an export writes
        raise PredictError(f"cannot load the model {path!r}: {e}") from e


# ----------------------------------------------------------------------------- the image
def read_image(path: str) -> np.ndarray:
    """The image file ``path`` (PNG, JPEG or any format Pillow reads; the first frame; EXIF
    orientation applied) as uint8 ``[H, W, C]``: C is 1 for grey images (16-bit ones scaled to
    8 bits), 4 for images with transparency, else 3."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not os.path.exists(path):
        raise PredictError(f"image {path!r} does not exist")
    if os.path.isdir(path):
        raise PredictError(f"image {path!r} is a directory, not an image file")
    try:
        with Image.open(path) as picture:
            picture.load()
            picture = ImageOps.exif_transpose(picture)
            mode = picture.mode
            if mode in ("I", "F") or mode.startswith("I;16"):
                values = np.asarray(picture, dtype=np.float64)
                if values.max(initial=0) > 255:  # 16 bits
                    values = values / 257.0
                return np.clip(np.round(values), 0, 255).astype(np.uint8)[..., None]
            if mode in ("1", "L"):
                return np.asarray(picture.convert("L"))[..., None]
            alpha = mode.endswith(("A", "a")) or "transparency" in picture.info
            return np.asarray(picture.convert("RGBA" if alpha else "RGB"))
    except UnidentifiedImageError as e:
        raise PredictError(f"{path!r} is not an image Pillow can read (PNG, JPEG, ...)") from e
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        # unreadable, truncated, corrupt or too large
        raise PredictError(f"cannot read image {path!r}: {e}") from e


def _luma(rgb: np.ndarray) -> np.ndarray:
    weights = np.array([0.299, 0.587, 0.114])
    return np.clip(np.round(rgb.astype(np.float64) @ weights), 0, 255).astype(np.uint8)[..., None]


def to_channels(image: np.ndarray, channels: int) -> tuple[np.ndarray, list[str]]:
    """``image`` (uint8 ``[H, W]`` or ``[H, W, C]``, C 1, 3 or 4) with ``channels`` (1 or 3)
    channels, and notes on what was converted."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise PredictError(
            f"the image must be uint8 [H, W] or [H, W, C], got {image.dtype} {list(image.shape)}"
        )
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] not in (1, 3, 4) or 0 in image.shape:
        raise PredictError(
            f"the image must have 1, 3 or 4 channels and pixels, got shape {list(image.shape)}"
        )
    notes = []
    if image.shape[-1] == 4:
        image = image[..., :3]
        notes.append("dropped the image's alpha channel")
    if image.shape[-1] == channels:
        return image, notes
    if channels == 3:
        notes.append("converted the grey image to RGB (the model takes 3 channels)")
        return np.repeat(image, 3, axis=-1), notes
    notes.append("converted the RGB image to grey (the model takes 1 channel)")
    return _luma(image), notes


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 ``[H, W, C]`` resized to ``height x width``: bilinear and antialiased, as the
    training pipeline resizes (:func:`yeehaw_tf.data.pipeline.resize_images`)."""
    import tensorflow as tf

    resized = tf.image.resize(
        tf.cast(image, tf.float32), (height, width), method="bilinear", antialias=True
    )
    return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


def prepare_image(image: np.ndarray, shape) -> tuple[np.ndarray, list[str]]:
    """``image`` fitted to the model's input ``shape`` ``[H, W, C]`` (``None``: any size):
    channels converted, then resized; with notes on both."""
    height, width, channels = shape
    image, notes = to_channels(image, channels)
    size = image.shape[:2]
    target = (height or size[0], width or size[1])
    if size != target:
        image = resize_image(image, *target)
        notes.append(
            f"resized the image from {size[0]}x{size[1]} to {target[0]}x{target[1]} (height x "
            "width, the model's input size; bilinear); results are mapped back to the original "
            "size"
        )
    return image, notes


# ----------------------------------------------------------------------------- prediction
def class_name(names, index: int) -> str:
    """``names[index]``, or ``class <index>`` for a class without a name."""
    index = int(index)
    return names[index] if 0 <= index < len(names) else f"class {index}"


def _full_names(names, count: int) -> list[str]:
    return [class_name(names, i) for i in range(max(count, len(names)))]


class Predictor:
    """An export directory's model, loaded once: ``predictor(image)`` is :func:`predict`."""

    def __init__(self, model_dir: str, model: str | None = None):
        self.model_dir = model_dir
        self.metadata = load_metadata(model_dir)
        self.task = self.metadata["task"]
        self.class_names = list(self.metadata.get("class_names") or [])
        self.input_shape = tuple(self.metadata["inputs"]["images"]["shape"][1:])
        self.model_name = choose_model(model_dir, model)
        self._model = load_model(model_dir, self.model_name)

    def __call__(self, image: np.ndarray, min_score: float = DEFAULT_MIN_SCORE) -> dict:
        if not 0.0 <= min_score <= 1.0:
            raise PredictError(f"min_score must be in [0, 1], got {min_score}")
        original = np.asarray(image)
        if original.ndim == 2:
            original = original[..., None]
        fitted, notes = prepare_image(original, self.input_shape)
        inputs = {"images": fitted[None]}
        if "proposals" in self.metadata["inputs"]:
            inputs["proposals"] = self._proposals(fitted)
        try:
            outputs = self._model(**inputs)
        except ValueError as e:  # the file's signature is not what metadata.json says
            raise PredictError(
                f"{os.path.join(self.model_dir, self.model_name)!r} does not take the input "
                f"metadata.json describes: {e}"
            ) from e
        outputs = {k: np.asarray(v)[0] for k, v in outputs.items()}
        result = {
            "task": self.task,
            "model": self.model_name,
            "input_shape": list(self.input_shape),
            "image_shape": list(original.shape),
            "notes": notes,
            "outputs": outputs,
        }
        height, width = original.shape[:2]
        if self.task == "classification":
            result.update(self._classify(outputs))
        elif self.task == "segmentation":
            result.update(self._segment(outputs, height, width))
        else:
            result.update(self._detect(outputs, height, width, min_score))
        return result

    def _proposals(self, image: np.ndarray) -> np.ndarray:
        """``float32 [1, R, 4]`` xyxy pixel proposals of the model-sized ``image``, by the
        method ``metadata.json`` names (selective search)."""
        spec = self.metadata.get("proposals") or {}
        count = self.metadata["inputs"]["proposals"]["shape"][1]
        if spec.get("method") != "selective_search" or not isinstance(count, int):
            raise PredictError(
                f"{self.model_dir!r}: the model takes proposals, but metadata.json names no "
                f"method for them ({{'proposals': {{'method': 'selective_search', 'mode': ...}}}} "
                f"and inputs.proposals [null, R, 4]), got {spec!r}"
            )
        from yeehaw_tf.models.detection.proposal_inputs import selective_search_proposals

        rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
        return selective_search_proposals(rgb[None], count, mode=spec.get("mode", "fast"))

    def _classify(self, outputs) -> dict:
        probabilities = outputs["probabilities"].astype(np.float64)
        names = _full_names(self.class_names, len(probabilities))
        order = np.argsort(-probabilities, kind="stable")[:TOP_K]
        top = [
            {"class": int(i), "name": names[i], "probability": float(probabilities[i])}
            for i in order
        ]
        return {"class_names": names, "top": top}

    def _segment(self, outputs, height: int, width: int) -> dict:
        probabilities = outputs["probabilities"]
        classes = outputs["classes"].astype(np.int64)
        if classes.shape != (height, width):
            import tensorflow as tf

            upsampled = tf.image.resize(probabilities, (height, width), method="bilinear")
            classes = np.argmax(upsampled.numpy(), axis=-1).astype(np.int64)
        num_classes = probabilities.shape[-1]
        names = _full_names(self.class_names, num_classes)
        counts = np.bincount(classes.ravel(), minlength=len(names))
        shares = [
            {"class": i, "name": names[i], "share": float(counts[i] / classes.size)}
            for i in range(len(names))
        ]
        return {"class_names": names, "class_map": classes, "shares": shares}

    def _detect(self, outputs, height: int, width: int, min_score: float) -> dict:
        count = int(outputs["num_detections"])
        relative = np.clip(outputs["boxes"][:count].astype(np.float64), 0.0, 1.0)
        scale = np.array([height, width, height, width], np.float64)
        yxyx = relative * scale
        xyxy = yxyx[:, [1, 0, 3, 2]]
        scores = outputs["scores"][:count].astype(np.float64)
        classes = outputs["classes"][:count].astype(np.int64)
        names = _full_names(self.class_names, int(classes.max(initial=-1)) + 1)
        kept = np.nonzero(scores >= min_score)[0]
        detections = [
            {
                "class": int(classes[i]),
                "name": names[classes[i]],
                "score": float(scores[i]),
                "box": [float(v) for v in xyxy[i]],
            }
            for i in kept
        ]
        result = {
            "class_names": names,
            "min_score": float(min_score),
            "num_detections": count,
            "detections": detections,
        }
        if "masks" in outputs:  # instance masks in box coordinates: pasted into the image
            from yeehaw_tf.models.detection.mask_head import paste_masks

            masks = paste_masks(outputs["masks"][kept], xyxy[kept], height, width)
            for detection, mask in zip(detections, masks, strict=True):
                detection["mask_pixels"] = int(mask.sum())
            result["masks"] = masks
        return result


def predict(
    model_dir: str,
    image: np.ndarray,
    model: str | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
) -> dict:
    """Runs the exported model of ``model_dir`` on ``image`` (uint8 ``[H, W]`` or
    ``[H, W, C]``, any size).

    Args:
        model: the file to run (see :func:`choose_model`); default ``saved_model``, else
            ``model_float32.tflite``.
        min_score: detections scoring below it are left out of ``detections``.

    Returns:
        ``task``, ``model`` (the file run), ``input_shape`` (the model's ``[H, W, C]``),
        ``image_shape`` (the given image's), ``notes`` (conversions and resizing done),
        ``outputs`` (the model's outputs for the image, batch axis dropped), ``class_names``
        (one per class, ``class <i>`` where the export names none) and per task:

        - classification: ``top``: the best 5 ``{class, name, probability}``, best first;
        - segmentation: ``class_map`` ``[H, W]`` at the image's size and ``shares``: per class
          ``{class, name, share}`` (fraction of the pixels);
        - detection: ``detections``: ``{class, name, score, box}`` scoring at least
          ``min_score``, best first, ``box`` ``[x1, y1, x2, y2]`` in pixels of ``image``;
          ``num_detections``: how many the model returned.
    """
    return Predictor(model_dir, model)(image, min_score=min_score)


# ----------------------------------------------------------------------------- output
def format_result(result: dict) -> str:
    """The printed form of a :func:`predict` result (notes first)."""
    lines = [f"note: {note}" for note in result["notes"]]
    task = result["task"]
    lines.append(f"{task} with {result['model']}")
    if task == "classification":
        width = max(len(t["name"]) for t in result["top"])
        lines.append(f"top {len(result['top'])} of {len(result['class_names'])} classes:")
        for rank, t in enumerate(result["top"], 1):
            lines.append(f"  {rank}. {t['name']:<{width}}  {t['probability']:.4f}")
    elif task == "segmentation":
        height, width = result["class_map"].shape
        name_width = max(len(s["name"]) for s in result["shares"])
        lines.append(f"pixel share per class ({height}x{width} pixels):")
        for s in result["shares"]:
            lines.append(f"  {s['name']:<{name_width}}  {100 * s['share']:6.2f}%")
    else:
        found = result["detections"]
        lines.append(
            f"{len(found)} detection{'s' if len(found) != 1 else ''} scoring >= "
            f"{result['min_score']:.2f} (of {result['num_detections']}); boxes "
            "[x1, y1, x2, y2] in pixels of the original image:"
        )
        name_width = max((len(d["name"]) for d in found), default=0)
        for d in found:
            box = ", ".join(f"{v:.1f}" for v in d["box"])
            mask = f"  mask {d['mask_pixels']} px" if "mask_pixels" in d else ""
            lines.append(f"  {d['name']:<{name_width}}  {d['score']:.3f}  [{box}]{mask}")
    return "\n".join(lines)


def class_palette(count: int) -> np.ndarray:
    """``count`` colours ``[count, 3]`` uint8: matplotlib's ``tab10`` (``tab20`` beyond 10
    classes), cycling."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if count <= 10 else "tab20"]
    colours = [cmap(i % cmap.N)[:3] for i in range(count)]
    return np.round(np.asarray(colours, np.float64).reshape(-1, 3) * 255).astype(np.uint8)


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    image = image[..., :3]
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def overlay(
    image: np.ndarray, class_map: np.ndarray, alpha: float = MASK_ALPHA, num_classes: int = 0
) -> np.ndarray:
    """``image`` (uint8 ``[H, W(, C)]``) blended with the colour of each pixel's class:
    ``(1 - alpha) * image + alpha * colour``, uint8 ``[H, W, 3]``; the colours are
    ``class_palette(num_classes)`` (at least as many as the map's classes)."""
    rgb = _rgb(image).astype(np.float64)
    class_map = np.asarray(class_map, np.int64)
    if class_map.shape != rgb.shape[:2]:
        raise ValueError(f"class_map must be {list(rgb.shape[:2])}, got {list(class_map.shape)}")
    count = max(int(num_classes), int(class_map.max(initial=0)) + 1)
    palette = class_palette(count).astype(np.float64)
    blended = (1.0 - alpha) * rgb + alpha * palette[class_map]
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def _figure(height: int, width: int):
    from matplotlib.figure import Figure

    scale = 6.0 / max(height, width)
    fig = Figure(figsize=(max(width * scale, 2.0), max(height * scale, 2.0)), dpi=100)
    ax = fig.add_axes((0, 0, 1, 0.9))
    ax.set_axis_off()
    return fig, ax


def _save_figure(fig, path: str) -> None:
    from yeehaw_tf.atomic import atomic_file

    with atomic_file(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight", pad_inches=0.1)


def annotate(image: np.ndarray, result: dict, path: str) -> str:
    """Writes ``image`` (the one given to :func:`predict`) annotated with ``result`` as a PNG
    to ``path`` (atomically) and returns ``path``: classification: titled with the best
    class and its probability; segmentation: the class map blended over it (alpha 0.5) with a
    legend of the classes present; detection: the boxes and labels of ``detections`` drawn at
    its resolution (:func:`yeehaw_tf.analysis.plots.draw_detections`)."""
    rgb = _rgb(image)
    task = result["task"]
    try:
        if task == "detection":
            from yeehaw_tf.analysis.plots import draw_detections

            found = result["detections"]
            draw_detections(
                rgb,
                np.asarray([d["box"] for d in found], np.float64).reshape(-1, 4),
                np.asarray([d["class"] for d in found], np.int64),
                np.asarray([d["score"] for d in found], np.float64),
                masks=result.get("masks"),
                class_names=tuple(result["class_names"]),
                path=path,
            )
            return path
        fig, ax = _figure(*rgb.shape[:2])
        if task == "classification":
            best = result["top"][0]
            ax.imshow(rgb, interpolation="nearest")
            ax.set_title(f"{best['name']}: {best['probability']:.3f}")
        else:
            import matplotlib.patches as mpatches

            class_map = result["class_map"]
            count = max(len(result["class_names"]), int(class_map.max(initial=0)) + 1)
            ax.imshow(overlay(rgb, class_map, num_classes=count), interpolation="nearest")
            palette = class_palette(count) / 255.0
            handles = [
                mpatches.Patch(color=palette[s["class"]], label=f"{s['name']} {s['share']:.1%}")
                for s in result["shares"]
                if s["share"] > 0
            ]
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
        _save_figure(fig, path)
    except OSError as e:
        raise PredictError(f"cannot write the annotated image {path!r}: {e}") from e
    return path


def default_out(image_path: str) -> str:
    """``<image name>_prediction.png`` in the current directory."""
    stem = os.path.splitext(os.path.basename(os.path.normpath(image_path)))[0] or "image"
    return f"{stem}_prediction.png"


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(
        prog="python -m yeehaw_tf.predict",
        description="Run an exported model on one image: print the result and write an "
        "annotated PNG.",
    )
    parser.add_argument(
        "--model_dir", required=True, help="an export directory (with metadata.json)"
    )
    parser.add_argument("--image", required=True, help="the image file (PNG, JPEG, ...)")
    parser.add_argument(
        "--out", default=None, help="the annotated PNG (default: ./<image name>_prediction.png)"
    )
    parser.add_argument(
        "--model",
        default=None,
        help=f"the file to run: one of {', '.join(MODEL_FILES)} (or float32, float16, dynamic, "
        "int8); default: saved_model, else model_float32.tflite",
    )
    parser.add_argument(
        "--min_score",
        type=float,
        default=DEFAULT_MIN_SCORE,
        help="detection: show detections scoring at least this",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.min_score <= 1.0:
        parser.error(f"--min_score must be in [0, 1], got {args.min_score}")
    try:
        # the cheap checks first: no model is loaded for a wrong directory or image
        load_metadata(args.model_dir)
        choose_model(args.model_dir, args.model)
        image = read_image(args.image)
        result = Predictor(args.model_dir, args.model)(image, min_score=args.min_score)
        print(format_result(result))
        out = annotate(image, result, args.out or default_out(args.image))
    except PredictError as e:
        parser.error(str(e))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
