"""Box operations vs the TensorFlow / Keras built-ins, one process.

    python benchmarks/box_ops.py [--rounds 7] [--round-seconds 0.1]

Three comparisons, each of two compiled ``tf.function``s on the same inputs:

* ``nms`` vs ``tf.image.non_max_suppression`` (the C++ kernel; also, for reference, TF's own
  tiled, TFLite-convertible ``tf.image.non_max_suppression_padded``) on 1,000 and 10,000
  detector-like boxes (clustered around 50 objects of 16 to 256 pixels in a 1024 x 1024
  image, jittered by 15% of their size; uniform scores), IoU threshold 0.5, ``max_outputs``
  100 and 1,000. The check column says whether our indices equal the kernel's.
* ``roi_align`` vs the classic ``tf.image.crop_and_resize`` RoIAlign: crop each RoI to an
  ``(7 * 2) x (7 * 2)`` grid placed at the bins' sample points, then 2 x 2 average pooling.
  RoIs clipped to the image, 32 to 512 pixels; output 7 x 7, sampling ratio 2; ours with
  ``aligned=True``, whose sample points are the same. Three sizes: 512 RoIs on a
  ``1 x 64 x 64 x 256`` map (stride 16), 64 RoIs on ``1 x 16 x 16 x 64``, 1,000 RoIs on
  ``1 x 32 x 32 x 256``. Each case has two rows: ``roi_align`` (the path it picks for that
  size, named) and the other path (gathers or matmuls), both vs ``crop_and_resize``. It is
  not the same op at the border: ``crop_and_resize`` returns 0 for a sample outside
  ``[0, size - 1]``, torchvision's RoIAlign clamps samples in ``[-1, 0)`` and
  ``(size - 1, size]`` to the edge pixel; and its coordinates pass through ``/ (size - 1)``,
  so they differ by float rounding elsewhere. The check column gives the maximum absolute
  difference over all RoIs and over RoIs whose samples all lie inside the map, and between
  our two paths.
* ``iou`` vs ``keras.utils.bounding_boxes.compute_iou`` at 1,000 x 1,000 and 10,000 x 100
  boxes; the check column gives the maximum absolute difference.

Each function is traced and warmed up first (tracing is not timed). Then, in each of
``--rounds`` interleaved rounds, each function runs for about ``--round-seconds`` (a call
count fixed after the warm-up); the table shows the min / median / max time per call over the
rounds. Ratio = ours / baseline of the median times (lower is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from reporting import spread  # noqa: E402

from yeehaw_tf.ops import iou, nms, roi_align  # noqa: E402
from yeehaw_tf.ops.roi.costs import gathers_are_cheaper  # noqa: E402

IMAGE = 1024.0
MS = "{:.2f}"  # milliseconds, as printed


def detections(n: int, rng, objects: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """``n`` xyxy boxes clustered around ``objects`` objects, and uniform scores."""
    centres = rng.uniform(0, IMAGE, (objects, 2))
    sizes = np.exp(rng.uniform(np.log(16), np.log(256), (objects, 2)))
    k = rng.integers(0, objects, n)
    centre = centres[k] + rng.normal(0, 0.15, (n, 2)) * sizes[k]
    half = sizes[k] * np.exp(rng.normal(0, 0.15, (n, 2))) / 2
    boxes = np.concatenate([centre - half, centre + half], 1).astype(np.float32)
    return boxes, rng.uniform(0, 1, n).astype(np.float32)


def crop_and_resize_roi_align(features, rois, output_size, spatial_scale, sampling_ratio):
    """RoIAlign from ``tf.image.crop_and_resize`` (the Detectron / tensorpack construction):
    the crop's grid points are the bins' sample points of ``aligned=True`` RoIAlign."""
    h, w = features.shape[1], features.shape[2]
    crop = output_size * sampling_ratio
    batch = tf.cast(rois[:, 0], tf.int32)
    x1, y1, x2, y2 = tf.unstack(rois[:, 1:] * spatial_scale, axis=1)
    step_x, step_y = (x2 - x1) / crop, (y2 - y1) / crop
    nx1, ny1 = (x1 + step_x / 2 - 0.5) / (w - 1), (y1 + step_y / 2 - 0.5) / (h - 1)
    nw, nh = step_x * (crop - 1) / (w - 1), step_y * (crop - 1) / (h - 1)
    boxes = tf.stack([ny1, nx1, ny1 + nh, nx1 + nw], axis=1)
    crops = tf.image.crop_and_resize(features, boxes, batch, [crop, crop])
    return tf.nn.avg_pool2d(crops, sampling_ratio, sampling_ratio, "VALID")


def round_times(functions: dict, args: tuple, rounds: int, round_seconds: float) -> dict:
    """Seconds per call of each function in each of the interleaved rounds."""
    calls = {}
    for name, f in functions.items():
        f(*args)  # trace
        began = time.perf_counter()
        np.asarray(f(*args)[0])  # warm up, and size the rounds
        calls[name] = max(1, round(round_seconds / (time.perf_counter() - began)))
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, f in functions.items():
            began = time.perf_counter()
            for _ in range(calls[name]):
                result = f(*args)
            np.asarray(result[0])
            times[name].append((time.perf_counter() - began) / calls[name])
    return times


def nms_functions(boxes, yxyx, scores, k: int) -> dict:
    return {
        "ours": tf.function(lambda: (nms(boxes, scores, 0.5, max_outputs=k),)),
        "kernel": tf.function(lambda: (tf.image.non_max_suppression(yxyx, scores, k, 0.5),)),
        "padded": tf.function(lambda: tf.image.non_max_suppression_padded(yxyx, scores, k, 0.5)),
    }


def nms_rows(rng, rounds, round_seconds):
    rows = []
    for n in (1000, 10000):
        boxes, scores = detections(n, rng)
        yxyx = tf.constant(boxes[:, [1, 0, 3, 2]])
        boxes, scores = tf.constant(boxes), tf.constant(scores)
        for k in (100, 1000):
            functions = nms_functions(boxes, yxyx, scores, k)
            ours, theirs = functions["ours"]()[0].numpy(), functions["kernel"]()[0].numpy()
            same = "identical" if np.array_equal(ours, theirs) else "DIFFERENT"
            t = round_times(functions, (), rounds, round_seconds)
            name = f"nms {n} boxes, max_outputs {k} ({len(ours)} kept)"
            rows.append((name, t["ours"], t["kernel"], same))
            rows.append(("  same, vs non_max_suppression_padded", t["ours"], t["padded"], ""))
    return rows


ROI_ALIGN_CASES = ((512, 64, 256), (64, 16, 64), (1000, 32, 256))  # RoIs, map side, channels


def roi_align_rows(rng, rounds, round_seconds):
    rows = []
    for count, size, channels in ROI_ALIGN_CASES:
        rows += roi_align_case(rng, rounds, round_seconds, count, size, channels)
    return rows


def roi_align_case(rng, rounds, round_seconds, count, size, channels):
    stride = IMAGE / size
    features = tf.constant(rng.normal(size=(1, size, size, channels)).astype(np.float32))
    centre = rng.uniform(0, IMAGE, (count, 2))
    half = np.exp(rng.uniform(np.log(32), np.log(512), (count, 2))) / 2
    xyxy = np.clip(np.concatenate([centre - half, centre + half], 1), 0, IMAGE)
    rois = tf.constant(np.concatenate([np.zeros((count, 1)), xyxy], 1).astype(np.float32))
    gathers = gathers_are_cheaper([features.shape], 7, 7, 2)
    chosen, other = ("gathers", "matmuls") if gathers else ("matmuls", "gathers")
    method = {"gathers": "gather", "matmuls": "matmul"}[other]
    functions = {
        "ours": tf.function(lambda: (roi_align(features, rois, 7, 1 / stride, 2, aligned=True),)),
        "other": tf.function(lambda: (roi_align(features, rois, 7, 1 / stride, 2, True, method),)),
        "crop_and_resize": tf.function(
            lambda: (crop_and_resize_roi_align(features, rois, 7, 1 / stride, 2),)
        ),
    }
    weights = tf.constant(rng.normal(size=(count, 7, 7, channels)).astype(np.float32))

    def gradient(align):
        def run():
            with tf.GradientTape() as tape:
                tape.watch(features)
                loss = tf.reduce_sum(align() * weights)
            # the loss is returned too: the op is linear, so its gradient alone would let the
            # graph optimiser prune the forward pass
            return tape.gradient(loss, features), loss

        return tf.function(run)

    gradients = {
        "ours": gradient(lambda: roi_align(features, rois, 7, 1 / stride, 2, aligned=True)),
        "crop_and_resize": gradient(
            lambda: crop_and_resize_roi_align(features, rois, 7, 1 / stride, 2)
        ),
    }
    ours = functions["ours"]()[0].numpy()
    diff = np.abs(ours - functions["crop_and_resize"]()[0].numpy())
    # Sample points lie half a sample step inside the RoI, shifted by -0.5 pixel.
    scaled = xyxy / stride
    step = (scaled[:, 2:] - scaled[:, :2]) / 14
    first, last = scaled[:, :2] - 0.5 + step / 2, scaled[:, 2:] - 0.5 - step / 2
    inside = np.all((first >= 0) & (last <= size - 1), axis=1)
    check = (
        f"max |diff| {diff.max():.1e} all, {diff[inside].max():.1e} on the "
        f"{inside.sum()} inside RoIs"
    )
    paths_diff = np.abs(functions["other"]()[0].numpy() - ours).max()
    # TF's CPU kernel for crop_and_resize's image gradient shards the boxes over threads that
    # add into the same gradient image unsynchronised: two calls disagree
    crop_grads = [gradients["crop_and_resize"]()[0].numpy() for _ in range(2)]
    racy = np.abs(crop_grads[0] - crop_grads[1]).max()
    scale = np.abs(gradients["ours"]()[0].numpy()).max()
    t = round_times(functions, (), rounds, round_seconds)
    g = round_times(gradients, (), rounds, round_seconds)
    name = f"roi_align {count} RoIs, {size}x{size}x{channels}"
    return [
        (f"{name} ({chosen})", t["ours"], t["crop_and_resize"], check),
        (f"  same, by {other}", t["other"], t["crop_and_resize"], f"vs {chosen} {paths_diff:.1e}"),
        (
            "  forward + gradient",
            g["ours"],
            g["crop_and_resize"],
            f"base: 2 calls differ by {racy:.1e} (|grad| <= {scale:.0f})",
        ),
    ]


def iou_rows(rng, rounds, round_seconds):
    rows = []
    for n, m in ((1000, 1000), (10000, 100)):
        a, _ = detections(n, rng)
        b, _ = detections(m, rng)
        a, b = tf.constant(a), tf.constant(b)
        functions = {
            "ours": tf.function(lambda a=a, b=b: (iou(a, b),)),
            "keras": tf.function(
                lambda a=a, b=b: (keras.utils.bounding_boxes.compute_iou(a, b, "xyxy"),)
            ),
        }
        diff = np.abs(functions["ours"]()[0].numpy() - functions["keras"]()[0].numpy()).max()
        t = round_times(functions, (), rounds, round_seconds)
        rows.append((f"iou {n} x {m}", t["ours"], t["keras"], f"max |diff| {diff:.1e}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-seconds", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; min / median / max of "
        f"{args.rounds} interleaved rounds of ~{args.round_seconds} s per function, tracing "
        "excluded; ratios of medians"
    )
    began = time.perf_counter()
    rows = (
        nms_rows(rng, args.rounds, args.round_seconds)
        + roi_align_rows(rng, args.rounds, args.round_seconds)
        + iou_rows(rng, args.rounds, args.round_seconds)
    )
    print(f"{'case':<50}{'ours ms min/med/max':>28}{'base ms min/med/max':>28}{'ratio':>8}  check")
    for name, ours, base, check in rows:
        ratio = statistics.median(ours) / statistics.median(base)
        ours, base = ([s * 1e3 for s in t] for t in (ours, base))
        print(f"{name:<50}{spread(ours, MS):>28}{spread(base, MS):>28}{ratio:>8.2f}  {check}")
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
