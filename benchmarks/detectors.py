"""The small detectors side by side: training speed, and serving latency in every export format.

    python benchmarks/detectors.py [--models retinanet_small,faster_rcnn_fpn] [--batch 16]
                                   [--steps 3] [--rounds 5] [--calls 20]
                                   [--formats saved_model,float32,float16,dynamic,int8]
                                   [--markdown]

Every registered detector whose canonical input (``DETECTOR_INPUT_SHAPES``) is 64 x 64 (by
default; ``--models`` picks some), each inside the real detection task
(``DetectionTask(DetectionOptions(model=...))``, 3 classes, 64 x 64 x 3 images, mean / std of
the synthetic training images), on the same synthetic data: flat-coloured rectangles (1 to 3
per image, 8 to 40 pixels) on a flat background, in the pipeline's format (float pixels 0..255;
boxes relative yxyx padded to ``max_boxes`` with class -1; uint8 instance masks for families
that use them).

* **Training**: one compiled step per model -- ``task.compute_loss(models, batch, True, ctx)``
  under a tape, normalised as the Trainer does (``yeehaw_tf.training.step.normalize``, plus the
  models' regularisation losses), Adam applying the gradients; ``ctx.random`` is
  ``StepRandomness(0, step)``. Traced and warmed up first; then ``--rounds`` rounds of
  ``--steps`` steps, interleaved across the models; images/s = batch * steps / seconds.
* **Serving latency**: the task's ``serve(model)`` (uint8 images -> boxes, scores, classes,
  num_detections[, masks], decoding and NMS inside), batch 1, after the training rounds (an
  all-but-untrained model). ``keras``: the serve function as the exporter's own Keras reference
  runs it (``nonempty_batch(serve)`` in a ``tf.function`` with the uint8 signature). The files
  come from the export path itself: ``detection_spec`` -> ``export_saved_model`` (loaded back
  with ``ServingModel``) -> ``convert_saved_model`` per quantization, int8 calibrated on
  ``--calibration`` synthetic images with the spec's ``INT8_FLOAT_OPS`` kept in float, run in
  LiteRT by ``TFLiteModel``; all in a temporary directory. Every runner is called once to warm
  up, then ``--rounds`` rounds of ``--calls`` calls interleaved across the formats; ms per image
  is the median round. Outputs are brought back as NumPy arrays in every format.

Ratios are against baselines measured in the same process: training images/s against the first
selected model (``retinanet_small`` by default), every format's latency against Keras of the
same model, and int8 against float32.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import traceback
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from reporting import (  # noqa: E402
    add_markdown_flag,
    interleaved_timings,
    markdown_table,
    print_markdown,
    spread,
)

from yeehaw_tf.export.detection import detection_spec  # noqa: E402
from yeehaw_tf.export.saved_model import ServingModel, export_saved_model, nonempty_batch  # noqa: E402
from yeehaw_tf.export.tflite import (  # noqa: E402
    QUANTIZATIONS,
    TFLiteConversionError,
    TFLiteModel,
    convert_saved_model,
)
from yeehaw_tf.models.registry import DETECTOR_INPUT_SHAPES, get_detector  # noqa: E402
from yeehaw_tf.training.randomness import StepRandomness  # noqa: E402
from yeehaw_tf.training.step import normalize, regularization_loss  # noqa: E402
from yeehaw_tf.training.tasks import DetectionTask  # noqa: E402
from yeehaw_tf.training.tasks.detection import DetectionOptions  # noqa: E402

INPUT_SHAPE = (64, 64, 3)
NUM_CLASSES = 3
# the small detectors the detection task trains (not those taking proposals as an input)
SMALL = [
    name
    for name, shape in DETECTOR_INPUT_SHAPES.items()
    if tuple(shape) == INPUT_SHAPE and not getattr(get_detector(name), "takes_proposals", False)
]
FORMATS = ("saved_model", *QUANTIZATIONS)  # besides keras, the baseline

HOW_TO_READ = """\
Train img/s: images per second of one compiled training step (the task's loss, gradients, Adam
update) at the stated batch; in brackets its ratio to the first row's model, measured in the
same interleaved rounds. The latency columns give ms per image at batch 1 of the whole serving
function -- standardisation, network, box decoding and NMS; for the two-stage models also the
RPN, the proposal NMS, RoIAlign and the second stage, and Mask R-CNN's mask head -- each with
its ratio to the same model's Keras time in brackets (below 1: faster than Keras). int8/f32 is
the int8 file's latency over the float32 file's; the MB columns are the `.tflite` files.

The models are untrained (only the benchmark's own few steps on synthetic rectangles), which is
fine for timing but not for accuracy. At the 0.05 score threshold most of them keep the full 100
detections (`dets`: Keras's and int8's detections in the timed image), their near-uniform class
scores all being above it; RetinaNet, whose classification bias starts at the focal-loss prior
0.01, keeps none. The graph runs NMS either way; a trained model's latency can differ where the
number of candidates above the threshold changes NMS's work.

Seen in the smoke-size runs of 2026-12-02 (batch 2, 2 rounds of 3 calls, 2 shared CPU cores:
absolute times moved by up to 2x between runs, so only large gaps count): the single-stage
TFLite files ran in 0.4 to 0.6x the Keras time, dynamic and int8 in 0.2x; for the two-stage
models int8 was not consistently faster than float32 (0.6 to 2.8x), and Mask R-CNN's dynamic-
range file was 4 to 5x slower than Keras (about 500 ms an image) in both runs. Keras and the
SavedModel, which run the same graph, were level within noise in a 5-round check.

A conversion that crashes TensorFlow's converter is listed as failed in the setup line, its
cells "failed", and the other rows stand: the exporter runs int8 conversions in a child process
(`convert_saved_model`), because at the suite's settings (batch 16, 15 training steps) TF
2.21's MLIR quantizer dies with a segmentation fault on Mask R-CNN's graph, which before
took the whole script down (exit code -11) and left this section empty."""


# ----------------------------------------------------------------------------- synthetic data
def synthetic_examples(count: int, rng, max_boxes: int, masks: bool):
    """``(images float32 [N, H, W, 3] 0..255, targets)`` in the detection pipeline's format:
    1 to 3 flat-coloured rectangles per image on a flat background."""
    height, width = INPUT_SHAPE[:2]
    images = np.empty((count, *INPUT_SHAPE), np.float32)
    boxes = np.zeros((count, max_boxes, 4), np.float32)
    classes = np.full((count, max_boxes), -1, np.int32)
    instance = np.zeros((count, max_boxes, height, width), np.uint8) if masks else None
    for i in range(count):
        images[i] = rng.uniform(0, 255, 3)
        for j in range(rng.integers(1, 4)):
            h, w = rng.integers(8, 41, 2)
            y, x = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
            images[i, y : y + h, x : x + w] = rng.uniform(0, 255, 3)
            boxes[i, j] = (y / height, x / width, (y + h) / height, (x + w) / width)
            classes[i, j] = rng.integers(0, NUM_CLASSES)
            if masks:
                instance[i, j, y : y + h, x : x + w] = 1
    targets = {"boxes": boxes, "classes": classes}
    if masks:
        targets["masks"] = instance
    return images, targets


# ----------------------------------------------------------------------------- training
def train_step(task: DetectionTask, models: dict, optimizer, batch_size: int):
    """The default task step (``Task.train_step`` through ``StepContext.minimize``) without
    the Trainer's NaN guard and distribution: normalised loss, regularisation, Adam."""
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    model = models["model"]

    @tf.function
    def run(batch):
        ctx = types.SimpleNamespace(random=StepRandomness(0, step))
        with tf.GradientTape() as tape:
            raw = task.compute_loss(models, batch, True, ctx)
            loss = normalize(raw, float(batch_size), tf.distribute.get_replica_context()).total
            penalty = regularization_loss(model)
            if penalty is not None:
                loss += tf.cast(penalty, tf.float32)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        step.assign_add(1)
        return loss

    return run


def timed_steps(run, batch, steps: int, batch_size: int):
    def measure() -> float:
        began = time.perf_counter()
        for _ in range(steps):
            loss = run(batch)
        float(loss)
        return (time.perf_counter() - began) / (steps * batch_size)  # seconds per image

    return measure


# ----------------------------------------------------------------------------- serving
def mb(path: str) -> float:
    if os.path.isfile(path):
        return os.path.getsize(path) / 1e6
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs) / 1e6


def serving_runners(task, model, workdir, formats, calibration, rng, errors):
    """``({format: call(images) -> numpy outputs}, {format: MB})``; a format that fails to
    export or run is left out and its error recorded in ``errors``."""
    eval_images, eval_targets = synthetic_examples(8, rng, 4, masks=False)
    representative, _ = synthetic_examples(calibration, rng, 4, masks=False)
    spec = detection_spec(
        model,
        task.serve(model),
        images=eval_images.astype(np.uint8),
        gt_boxes=eval_targets["boxes"],
        gt_classes=eval_targets["classes"],
        representative_images=representative.astype(np.uint8),
        class_ids=list(range(NUM_CLASSES)),
        score_floor=task.post_processor.score_threshold,
        int8_float_ops=task.int8_float_ops(),
    )
    wrapped = nonempty_batch(spec.serve)  # as the exporter's Keras reference runs it
    keras_serve = tf.function(
        lambda images: wrapped(images=images), input_signature=[spec.inputs["images"]]
    )
    runners = {"keras": lambda x: {k: v.numpy() for k, v in keras_serve(x).items()}}
    sizes = {}
    if not formats:
        return runners, sizes
    saved_model_dir = os.path.join(workdir, "saved_model")
    try:
        export_saved_model(spec, saved_model_dir)
    except Exception as error:  # noqa: BLE001 -- reported, and the run fails at the end
        errors.append(("saved_model", "export", error, traceback.format_exc()))
        return runners, sizes
    sizes["saved_model"] = mb(saved_model_dir)
    if "saved_model" in formats:
        serving = ServingModel(saved_model_dir)
        runners["saved_model"] = lambda x: serving(images=x)
    for quantization in QUANTIZATIONS:
        if quantization not in formats:
            continue
        stage = "convert"
        try:
            content = convert_saved_model(
                saved_model_dir, quantization, spec.representative, spec.int8_float_ops
            )
            path = os.path.join(workdir, f"model_{quantization}.tflite")
            with open(path, "wb") as f:
                f.write(content)
            sizes[quantization] = mb(path)
            stage = "load"
            tflite = TFLiteModel(content)
            runners[quantization] = lambda x, tflite=tflite: tflite(images=x)
        except Exception as error:  # noqa: BLE001
            errors.append((quantization, stage, error, traceback.format_exc()))
    return runners, sizes


def latencies(runners: dict, image, rounds: int, calls: int, errors: list):
    """``({format: seconds per image per round}, {format: detections in the image})``."""
    working = {}
    detections = {}
    for name, call in runners.items():
        try:
            out = call(image)  # warm up (and trace)
        except Exception as error:  # noqa: BLE001
            errors.append((name, "run", error, traceback.format_exc()))
            continue
        working[name] = call
        detections[name] = int(np.sum(out["num_detections"]))

    def timed(call):
        def measure() -> float:
            began = time.perf_counter()
            for _ in range(calls):
                call(image)
            return (time.perf_counter() - began) / calls

        return measure

    return interleaved_timings({k: timed(c) for k, c in working.items()}, rounds), detections


# ----------------------------------------------------------------------------- report
def with_ratio(value: float | None, base: float | None, fmt: str) -> str:
    if value is None:
        return "failed"
    return f"{fmt.format(value)} ({value / base:.2f})" if base else fmt.format(value)


def print_columns(header: list, rows: list) -> None:
    table = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(map(len, column)) for column in zip(*table, strict=True)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(SMALL), help=f"of {', '.join(SMALL)}")
    parser.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help="besides keras, any of " + ", ".join(FORMATS) + " (empty: Keras only)",
    )
    parser.add_argument("--batch", type=int, default=16, help="training batch")
    parser.add_argument("--steps", type=int, default=3, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=20, help="serving calls per round")
    parser.add_argument("--calibration", type=int, default=32, help="int8 calibration images")
    parser.add_argument("--no_train", action="store_true", help="serving latency only")
    parser.add_argument("--seed", type=int, default=0)
    add_markdown_flag(parser)
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    formats = [f for f in args.formats.split(",") if f]
    if unknown := sorted(set(models) - set(SMALL)):
        parser.error(f"--models: unknown or not 64 x 64 {unknown}; valid: {', '.join(SMALL)}")
    if unknown := sorted(set(formats) - set(FORMATS)):
        parser.error(f"--formats: unknown {unknown}; valid: {', '.join(FORMATS)}")
    formats = [f for f in FORMATS if f in formats]
    rng = np.random.default_rng(args.seed)
    keras.utils.set_random_seed(args.seed)
    began = time.perf_counter()

    any_masks = any(getattr(get_detector(m), "uses_masks", False) for m in models)
    pictures, targets = synthetic_examples(args.batch, rng, DetectionOptions().max_boxes, any_masks)
    pixels = pictures.reshape(-1, 3)
    mean, std = tuple(pixels.mean(0).tolist()), tuple(np.maximum(pixels.std(0), 1e-3).tolist())

    tasks, built, params, runs, steps = {}, {}, {}, {}, {}
    errors = {m: [] for m in models}
    for name in models:
        task = DetectionTask(
            DetectionOptions(model=name),
            num_classes=NUM_CLASSES,
            input_shape=INPUT_SHAPE,
            mean=mean,
            std=std,
        )
        tasks[name], built[name] = task, {"model": task.build_model()}
        params[name] = built[name]["model"].count_params()
        if args.no_train:
            continue
        masks = bool(getattr(task.family, "uses_masks", False))
        own = {k: v for k, v in targets.items() if masks or k != "masks"}
        batch = tf.nest.map_structure(tf.constant, (pictures, own))
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(built[name]["model"].trainable_variables)
        run = train_step(task, built[name], optimizer, args.batch)
        try:
            run(batch)  # trace
            run(batch)  # warm up
        except Exception as error:  # noqa: BLE001
            errors[name].append(("train", "step", error, traceback.format_exc()))
            continue
        runs[name] = timed_steps(run, batch, args.steps, args.batch)
        steps[name] = run
    train = interleaved_timings(runs, args.rounds) if runs else {}
    for name, run in steps.items():
        if run.experimental_get_tracing_count() != 1:  # the timings would include tracing
            print(
                f"{name}: the training step was traced "
                f"{run.experimental_get_tracing_count()} times",
                file=sys.stderr,
            )
    rate = {name: [1 / s for s in seconds] for name, seconds in train.items()}

    serving, sizes, dets = {}, {}, {}
    image = np.clip(pictures[:1], 0, 255).astype(np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            workdir = os.path.join(tmp, name)
            runners, sizes[name] = serving_runners(
                tasks[name],
                built[name]["model"],
                workdir,
                formats,
                args.calibration,
                rng,
                errors[name],
            )
            serving[name], dets[name] = latencies(
                runners, image, args.rounds, args.calls, errors[name]
            )
    seconds = time.perf_counter() - began

    failures = [(name, *e) for name in models for e in errors[name]]
    for name, fmt, stage, error, trace in failures:
        print(f"{name} {fmt} failed at {stage}: {type(error).__name__}: {error}", file=sys.stderr)
        print(trace, file=sys.stderr)

    def ms(name, fmt):
        values = serving[name].get(fmt)
        return statistics.median(values) * 1e3 if values else None

    baseline = next((m for m in models if m in rate), None)
    base_rate = statistics.median(rate[baseline]) if baseline else None
    shown = ("keras", *formats)
    dets_name = "dets (Keras / int8)" if "int8" in formats else "dets"
    header = ["detector", "params", dets_name, "train img/s", "Keras ms"]
    header += [{"saved_model": "SavedModel ms"}.get(f, f"{f} ms") for f in formats]
    both = "int8" in formats and "float32" in formats
    header += (["int8/f32"] if both else []) + [
        f"{f} MB" for f in ("float32", "int8") if f in formats
    ]
    rows, spreads = [], []
    for name in models:
        keras_ms = ms(name, "keras")
        train_rate = statistics.median(rate[name]) if name in rate else None
        row = [
            name,
            f"{params[name]:,}",
            " / ".join(str(dets[name].get(f, "-")) for f in ("keras", "int8") if f in shown),
            "-" if args.no_train else with_ratio(train_rate, base_rate, "{:.0f}"),
            with_ratio(keras_ms, None, "{:.2f}"),
        ]
        row += [with_ratio(ms(name, f), keras_ms, "{:.2f}") for f in formats]
        if both:
            int8, f32 = ms(name, "int8"), ms(name, "float32")
            row.append(f"{int8 / f32:.2f}" if int8 and f32 else "-")
        row += [
            f"{sizes[name][f]:.2f}" if f in sizes[name] else "-"
            for f in ("float32", "int8")
            if f in formats
        ]
        rows.append(row)
        spread_row = [name, spread(rate[name]) if name in rate else "-"]
        spread_row += [
            spread([s * 1e3 for s in serving[name][f]], "{:.2f}") if f in serving[name] else "-"
            for f in shown
        ]
        spreads.append(spread_row)
    spread_header = ["detector", "train img/s", "Keras ms"] + header[5 : 5 + len(formats)]

    calibrated = f"int8 calibrated on {args.calibration} synthetic images; " * ("int8" in formats)
    setup = (
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}. Training: batch {args.batch} "
        f"of 64 x 64 x 3 synthetic images (1 to 3 boxes each), {args.steps} step(s) per round; "
        f"serving: batch 1, {args.calls} calls per round; median of {args.rounds} interleaved "
        f"round(s), tracing and a warm-up excluded; {calibrated}ratios in brackets: train img/s "
        f"against {baseline or '-'}, latency against the same model's Keras."
    )
    if failures:
        setup += (
            " Failed: "
            + "; ".join(
                f"{name} {fmt} ({stage}: {_failure(error)})"
                for name, fmt, stage, error, _ in failures
            )
            + "."
        )
    if args.markdown:
        tables = markdown_table(header, rows) + "\n\nSpread (min / median / max):\n\n"
        tables += markdown_table(spread_header, spreads)
        print_markdown(setup, tables, HOW_TO_READ)
    else:
        print(f"{setup} The script took {seconds:.0f} s.")
        print_columns(header, rows)
        print("\nspread (min / median / max)")
        print_columns(spread_header, spreads)
    # a crash inside TF's converter (isolated in a child process) is TensorFlow's, reported in
    # the setup line; anything else fails the run
    if any(not _converter_crash(error) for *_, error, _ in failures):
        sys.exit(1)


def _failure(error: Exception) -> str:
    if _converter_crash(error):
        return f"TensorFlow's TFLite converter crashed, {error.signal}, in a child process"
    return type(error).__name__


def _converter_crash(error: Exception) -> bool:
    return isinstance(error, TFLiteConversionError) and error.signal is not None


if __name__ == "__main__":
    main()
