"""Runs every benchmark script and rewrites ``benchmarks/RESULTS.md`` from their output.

    python benchmarks/run_all.py                  # the suite (about 15 minutes on 2 CPU cores)
    python benchmarks/run_all.py --only scaling.py,box_ops.py      # Markdown to stdout
    python benchmarks/run_all.py --smoke          # tiny settings, Markdown to stdout

Each script runs in its own subprocess, from the repository root, with the arguments listed in
``BENCHMARKS`` (plus ``--markdown`` where the script has it). A script with ``--markdown`` prints
its section's body: the setup, a table of medians and ratios against a baseline measured in the
same run, and its hand-written "how to read this" paragraph. A script without it has its
standard output copied verbatim into a code block, followed by the paragraph from
``READINGS``. The file starts with the machine (CPU model and cores, GPU if any), the Python,
TensorFlow and Keras versions, the date and the load when the suite started; each section gives
the exact command that produced it. ``gpu_resnet50.py`` runs only where TensorFlow sees a GPU.

``RESULTS.md`` is generated: change a script's text, not the file. Only a full run (no
``--only``, no ``--smoke``) writes it by default; the others print to stdout unless
``--output`` says otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


@dataclasses.dataclass(frozen=True)
class Benchmark:
    script: str
    title: str
    args: tuple[str, ...] = ()  # the suite's settings
    smoke: tuple[str, ...] = ()  # tiny settings, to check that the script runs
    needs_gpu: bool = False


BENCHMARKS = (
    Benchmark(
        "loop_vs_fit.py",
        "Custom loop vs Keras fit",
        ("--steps", "300", "--repeats", "7"),
        ("--steps", "20", "--warmup", "10", "--steps_per_loop", "10", "--repeats", "1"),
    ),
    Benchmark(
        "input_pipeline.py",
        "Input pipeline vs tensors in memory",
        ("--steps", "200", "--segmentation_steps", "20", "--repeats", "5"),
        ("--steps", "10", "--segmentation_steps", "2", "--warmup", "25", "--repeats", "1"),
    ),
    Benchmark(
        "augmentation.py",
        "Augmentation policies vs the input pipeline without augmentation",
        ("--batches", "40", "--repeats", "3"),
        ("--batches", "2", "--repeats", "1", "--jobs", "digits"),
    ),
    Benchmark(
        "scaling.py",
        "One device vs two CPU devices vs two workers",
        ("--repeats", "5"),
        ("--variants", "64/batch", "--round_images", "640", "--warmup", "3", "--repeats", "1"),
    ),
    Benchmark(
        "norm_layers.py",
        "Normalisation layers vs Keras",
        ("--steps", "30", "--repeats", "5"),
        ("--batch", "8", "--steps", "2", "--repeats", "1"),
    ),
    Benchmark(
        "optimizers.py",
        "Optimizers vs Keras",
        ("--steps", "20", "--repeats", "7"),
        ("--steps", "2", "--repeats", "1"),
    ),
    Benchmark(
        "resnet50.py",
        "ResNet-50 train step vs Keras applications",
        ("--batch", "8", "--steps", "4", "--repeats", "7"),
        ("--batch", "2", "--size", "64", "--steps", "1", "--repeats", "1"),
    ),
    Benchmark(
        "box_ops.py",
        "Box operations",
        (),
        ("--rounds", "1", "--round-seconds", "0.01"),
    ),
    Benchmark(
        "detectors.py",
        "Small detectors: training speed and serving latency per export format",
        ("--batch", "16", "--steps", "3", "--rounds", "5", "--calls", "20"),
        ("--models", "retinanet_small", "--batch", "2", "--steps", "1", "--rounds", "1")
        + ("--calls", "2", "--formats", "float32"),
    ),
    Benchmark(
        "generative.py",
        "Generative models: train steps, samplers, generator latency per format",
        ("--batch", "64", "--steps", "30", "--repeats", "3"),
        ("--steps", "2", "--repeats", "1", "--sample_images", "4", "--calls", "2"),
    ),
    Benchmark(
        "gpu_resnet50.py",
        "ResNet-50 training on a GPU: float32, mixed float16, XLA",
        ("--batch", "256"),
        ("--quick",),
        needs_gpu=True,
    ),
)
# "How to read this" for scripts that print plain text instead of a Markdown section: the
# hand-written text that stood under their table before RESULTS.md was generated.
READINGS = {
    "box_ops.py": """\
Each function is compiled with `tf.function`, traced and warmed up first; the table gives the
min / median / max time per call over interleaved rounds; ratio = ours / baseline of the
medians (below 1 we are faster).
NMS inputs: detector-like boxes (clustered around 50 objects in a 1024 x 1024 image, jittered
by 15% of their size), uniform scores, IoU threshold 0.5. RoIAlign: ours with `aligned=True`
against `tf.image.crop_and_resize` to a 14 x 14 grid at the same sample points, then 2 x 2
average pooling. IoU: `keras.utils.bounding_boxes.compute_iou`.

Noise: four runs on 2026-11-26 (three with the default command, one with `--rounds 15`) moved
absolute times by up to 3x (RoIAlign 100 to 392 ms) as the shared machine's load changed; the
ratios moved less: NMS 2.5 to 3.0, 3.4 to 4.1, 2.3 to 2.8 and 0.84 to 1.07 (one outlier at
0.32, when the kernel run was slowed) in table order, RoIAlign 7.7 to 10.5, IoU 0.87 to 1.07
and 0.82 to 0.99.

Reading (written from those runs):

- NMS returns the C++ kernel's indices exactly in every case. It is 2.5 to 4x slower than
  the kernel on small problems: about 0.5 ms of fixed cost (a sort, one `while_loop` step of
  some 30 small ops, a 128 x 128 IoU block), and at 1,000 boxes with max_outputs 1,000 two
  512-box tiles whose 512 x 512 self-suppression blocks are computed to keep 198 boxes. With
  10,000 boxes and 1,000 outputs, where the kernel compares each candidate with up to 437
  kept boxes one at a time, the two are level. Against TensorFlow's own tiled, TFLite-
  convertible `non_max_suppression_padded` ours is 2 to 11x faster. The previous
  implementation (an `N x N` IoU matrix and one loop step per box) took 1.8 s and 1.7 GB of
  extra peak memory at 10,000 boxes and max_outputs 100; the tiled one about 5 ms and 18 MB
  (peak RSS, measured once outside this script).
- RoIAlign (measured 2026-12-04): on the 64 x 64 map, our forward pass by gathers is about
  4x the `crop_and_resize` construction (the gathers materialise `(2 ratio)^2` = 16 values per
  bin, four times the samples that kernel writes), the matmul path 6x; on the 16 x 16 and
  32 x 32 maps our matmul path is 1.2 to 1.5x. `crop_and_resize` is not a TFLite builtin,
  and it is not a training option on CPU either: its image gradient shards the boxes over
  threads that add into one gradient image unsynchronised, so two calls of the same gradient
  differ by about 1 to 3 where the gradient is at most 9 to 23 (the "forward + gradient" rows'
  check column; tensorflow/tensorflow#42033 calls it nondeterminism; the sums are lost
  updates). Forward plus backward, which is what training pays, our matmul path costs about
  the same as that racy kernel on the small maps the detectors here train on (0.95x to
  1.09x in two runs), and the gathers 4.3x to 4.5x on the 64 x 64 map, where the gathers'
  backward (a segment-sum of 16 rows per bin) dominates. The two are not the same op: on RoIs whose
  samples lie inside the map they agree to 5e-5 (unit-variance features; the
  `crop_and_resize` coordinates go through `/ (size - 1)` and back), but where a sample falls
  in `[-1, 0)` or `(size - 1, size]` torchvision's RoIAlign uses the edge pixel and
  `crop_and_resize` returns its extrapolation value 0, hence differences of up to 3.4 on
  RoIs at the image border.
- IoU is bit-identical to Keras's `compute_iou` and as fast, within noise.""",
}


def _machine() -> dict:
    """CPU, GPU and versions, as the scripts' Python sees them."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    probe = (
        "import json, platform, keras, tensorflow as tf\n"
        "gpus = tf.config.list_physical_devices('GPU')\n"
        "names = [tf.config.experimental.get_device_details(g).get('device_name', g.name)"
        " for g in gpus]\n"
        "print(json.dumps({'tf': tf.__version__, 'keras': keras.__version__,"
        " 'python': platform.python_version(), 'gpus': names}))"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    ).stdout
    info = json.loads(out.strip().splitlines()[-1])
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": usable, "os": platform.platform(), **info}


def _python_shown() -> str:
    """The interpreter as a command line would name it (relative to the repository if inside)."""
    relative = os.path.relpath(sys.executable, REPO)
    return sys.executable if relative.startswith("..") else relative


def _supports_markdown(path: str) -> bool:
    with open(path) as f:
        text = f.read()
    return '"--markdown"' in text or "add_markdown_flag(parser)" in text


def _run(benchmark: Benchmark, smoke: bool, timeout: float) -> tuple[str, str]:
    """Runs one script; returns (the command as shown, the section's body)."""
    path = os.path.join(HERE, benchmark.script)
    args = list(benchmark.smoke if smoke else benchmark.args)
    markdown = _supports_markdown(path)
    if markdown:
        args.append("--markdown")
    shown = " ".join([_python_shown(), f"benchmarks/{benchmark.script}", *args])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    began = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, path, *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return shown, f"**Not finished**: stopped after {timeout:.0f} s."
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-25:])
        return (
            shown,
            f"**Failed** (exit code {done.returncode}); the end of its errors:\n\n```\n{tail}\n```",
        )
    body = done.stdout.strip()
    if not markdown:
        body = f"```\n{body}\n```"
        if benchmark.script in READINGS:
            body += f"\n\n{READINGS[benchmark.script]}"
    return shown, f"{body}\n\nThe script took {seconds:.0f} s."


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _header(machine: dict, began: datetime.datetime, minutes: float, load: str) -> str:
    end_load = _load()
    gpus = ", ".join(machine["gpus"]) or "none"
    return f"""\
# Benchmark results

Generated by `{_python_shown()} benchmarks/run_all.py` (it runs every script below and rewrites
this file; edit a script's "how to read this" text, not this file). Every figure is the median
of several repeats, and every ratio is against a baseline measured in the same run: in the same
process, rounds interleaved, except in `scaling.py`, whose configurations need processes of
their own. Absolute rates depend on the machine and its load; the ratios are the results.

- Date: {began:%Y-%m-%d %H:%M} UTC; the suite took {minutes:.1f} minutes.
- Machine: {machine["cpu"]}, {machine["cores"]} CPU cores usable; GPU: {gpus}; {machine["os"]}.
- Python {machine["python"]}, TensorFlow {machine["tf"]}, Keras {machine["keras"]}.
- Load average (1, 5, 15 minutes) at the start: {load}; at the end: {end_load}. Other jobs
  shared the cores, so ratios a few percent apart are within noise."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated script names")
    parser.add_argument("--smoke", action="store_true", help="tiny settings; output to stdout")
    parser.add_argument("--output", default=None, help="default RESULTS.md ('-': stdout)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per script")
    args = parser.parse_args()
    output = args.output or ("-" if args.smoke or args.only else os.path.join(HERE, "RESULTS.md"))
    only = {s for s in args.only.split(",") if s}
    if unknown := only - {b.script for b in BENCHMARKS}:
        parser.error(f"unknown scripts {sorted(unknown)}")

    began = datetime.datetime.now(datetime.timezone.utc)
    load = _load()
    started = time.perf_counter()
    machine = _machine()
    sections = []
    for benchmark in BENCHMARKS:
        if only and benchmark.script not in only:
            continue
        if not os.path.exists(os.path.join(HERE, benchmark.script)):
            continue
        heading = f"## {benchmark.title} (`benchmarks/{benchmark.script}`)"
        if benchmark.needs_gpu and not machine["gpus"]:
            sections.append(
                f"{heading}\n\nNot run: no GPU on this machine. On one, `bash benchmarks/gpu.sh` "
                "installs the package with its `gpu` extra and runs it."
            )
            continue
        print(f"running {benchmark.script} ...", file=sys.stderr, flush=True)
        step_began = time.perf_counter()
        shown, body = _run(benchmark, args.smoke, args.timeout)
        print(f"  {time.perf_counter() - step_began:.0f} s", file=sys.stderr, flush=True)
        sections.append(f"{heading}\n\nCommand:\n\n    {shown}\n\n{body}")
    minutes = (time.perf_counter() - started) / 60
    text = "\n\n".join([_header(machine, began, minutes, load), *sections]) + "\n"
    if output == "-":
        print(text, end="")
    else:
        with open(output, "w") as f:
            f.write(text)
        print(f"wrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
