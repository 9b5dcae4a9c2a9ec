"""Recall of selective-search proposals (R-CNN's and Fast R-CNN's) on a detection test split.

    python benchmarks/proposals.py [--dataset shapes] [--modes single,fast]
                                   [--caps 25,50,100,200,500,all] [--limit N] [--markdown]
    python benchmarks/proposals.py --dataset shapes/crowded128 --data_dir /tmp/tfds  # harder

For every test image, ``yeehaw_tf.ops.selective_search`` (seed 0) runs once per mode with no
cap, and is timed: the mean wall-clock seconds per image, and the min / median / max CPU time
of one image (``time.process_time``, which a busy shared machine inflates less than the wall
clock). The time is mostly the Python loops of the graph segmentation and of the merging. A
cap keeps the first ``max_proposals`` boxes of the ranking, so one run serves every cap, and
the time per image does not depend on the cap.
Recall = fraction of ground-truth boxes with a proposal at IoU >= 0.5 (and 0.7), over the whole
split (``proposal_recall``); boxes are converted from the dataset's relative yxyx to pixel xyxy.
The dataset is prepared locally (TFDS builder, no download) on first use.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from reporting import add_markdown_flag, markdown_table, print_markdown, spread  # noqa: E402

from yeehaw_tf.data.detection import load_detection  # noqa: E402
from yeehaw_tf.ops.boxes import convert_boxes  # noqa: E402
from yeehaw_tf.ops.selective_search import MODES, proposal_recall, selective_search  # noqa: E402

HOW_TO_READ = """\
Each row: the mode, the cap (`all`: every unique box), the mean number of proposals per image
(below the cap when an image has fewer), recall at IoU 0.5 and 0.7, and the time per image --
the same for every cap of a mode. R-CNN used about 2,000 proposals per PASCAL image. Measured
(2 shared CPU cores): on `shapes/64x64` the 8 hierarchies of `fast` hold about 120 unique boxes
per image in all; the first 50 reach recall 0.998 at IoU 0.5 and 100 reach 1.000 (0.993 at
0.7), at about 0.1 s per image. `shapes/crowded128` (occluded shapes of 4 to 100 pixels, up to
12 per 128 x 128 image) is harder: `fast` gives 0.970 at 100 proposals, 0.987 at 200 and 0.997
with all (about 490), at about 0.35 s per image."""


def _split(name: str, data_dir: str | None, limit: int | None):
    data = load_detection(name, data_dir)
    images, gt = [], []
    for image, target in data.test.take(limit or -1):
        height, width = int(image.shape[0]), int(image.shape[1])
        images.append(image.numpy())
        gt.append(convert_boxes(target["boxes"], "rel_yxyx", "xyxy", height, width).numpy())
    return images, gt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="shapes", help="a detection dataset (shapes/64x64)")
    parser.add_argument("--data_dir", default=None, help="TFDS data dir (default: the cache)")
    parser.add_argument("--modes", default="single,fast", help=f"of {', '.join(MODES)}")
    parser.add_argument("--caps", default="25,50,100,200,500,all")
    parser.add_argument("--limit", type=int, default=None, help="the first N test images only")
    parser.add_argument("--seed", type=int, default=0)
    add_markdown_flag(parser)
    args = parser.parse_args()
    caps = [None if c == "all" else int(c) for c in args.caps.split(",")]
    images, gt = _split(args.dataset, args.data_dir, args.limit)

    rows = []
    for mode in args.modes.split(","):
        proposals, seconds, cpu = [], [], []
        for image in images:
            began, began_cpu = time.perf_counter(), time.process_time()
            proposals.append(selective_search(image, mode=mode, max_proposals=None, seed=args.seed))
            seconds.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        wall = f"{statistics.fmean(seconds):.3f}"
        cpu_ms = spread([1e3 * s for s in cpu])
        for cap in caps:
            kept = [p[:cap] for p in proposals]
            rows.append(
                [
                    mode,
                    "all" if cap is None else cap,
                    f"{np.mean([len(p) for p in kept]):.1f}",
                    f"{proposal_recall(kept, gt, 0.5):.4f}",
                    f"{proposal_recall(kept, gt, 0.7):.4f}",
                    wall,
                    cpu_ms,
                ]
            )
    header = ["mode", "max_proposals", "mean proposals", "recall@0.5", "recall@0.7"]
    header += ["s / image", "CPU ms (min / median / max)"]
    setup = (
        f"`{args.dataset}` test split: {len(images)} images, {sum(len(g) for g in gt)} "
        f"ground-truth boxes; selective search with seed {args.seed}."
    )
    if args.markdown:
        print_markdown(setup, markdown_table(header, rows, left=2), HOW_TO_READ)
        return
    print(setup)
    widths = [8, 14, 15, 11, 11, 10, 29]
    print("".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("".join(f"{str(c):>{w}}" for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
