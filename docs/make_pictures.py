"""Regenerates the pictures of the docs pages (``docs/images/*.png``) from the code.

    python docs/make_pictures.py                 # the function plots (about 20 s)
    python docs/make_pictures.py --runs          # also the trained ones (about 15 min, 2 cores)
    python docs/make_pictures.py --out /tmp/pictures --runs_dir /tmp/runs

Without ``--runs`` it draws what needs no training: every activation and its derivative
(``activations.png``), every learning-rate schedule (``schedules.png``) and each optimizer's
path on an ill-conditioned quadratic and the Rosenbrock function (``optimizer_paths.png``).
With ``--runs`` it also runs the default commands of the chapters whose pictures a trained model
draws and copies the picture each run writes into its workdir:

* ``segmentation_overlays.png``: ``python train.py --task=segmentation`` (its ``overlays.png``);
* ``detections.png``: ``python train.py --task=detection`` (its ``detections.png``);
* ``attacks_accuracy_vs_epsilon.png`` and ``attacks_examples.png``: the main job
  (``python train.py --export=false``), then ``python -m yeehaw_tf.attacks --workdir W`` (its
  ``attacks/accuracy_vs_epsilon.png`` and ``attacks/examples.png``).

A run already finished in ``--runs_dir`` is resumed (it just evaluates and re-exports), so
re-running the script is cheap. The GAN, VAE and diffusion pictures are written straight into
``docs/images`` by ``python -m experiments.generative`` (``--figures``), and
``centering_loss.png`` into its ``--out`` by ``python -m experiments.centering``: they train
far longer than this script should.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's start-up chatter
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

TRAIN = os.path.join(REPO, "train.py")
ATTACKED = ("main_job_attacked", [[TRAIN, "--export=false"], ["-m", "yeehaw_tf.attacks"]])
# picture -> (run name, its commands (each given --workdir=W), the file it writes into W)
RUNS = {
    "segmentation_overlays.png": ("segmentation", [[TRAIN, "--task=segmentation"]], "overlays.png"),
    "detections.png": ("detection", [[TRAIN, "--task=detection"]], "detections.png"),
    "attacks_accuracy_vs_epsilon.png": (*ATTACKED, "attacks/accuracy_vs_epsilon.png"),
    "attacks_examples.png": (*ATTACKED, "attacks/examples.png"),
}


def shrink(path: str, colours: int = 128) -> str:
    """Rewrites the PNG at ``path`` with a palette of ``colours`` (plots and the shapes scenes
    hold few colours: a third of the size, no visible change), atomically."""
    from PIL import Image

    staging = path + ".partial.png"
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(
            colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    palette.save(staging, optimize=True)
    os.replace(staging, path)
    return path


def draw_functions(out: str) -> list[str]:
    """The pictures that need no training, written into ``out``."""
    from yeehaw_tf.analysis.plots import plot_activations, plot_optimizer_paths, plot_schedules

    return [
        plot_activations(os.path.join(out, "activations.png")),
        plot_schedules(os.path.join(out, "schedules.png")),
        plot_optimizer_paths(os.path.join(out, "optimizer_paths.png")),
    ]


def draw_runs(out: str, runs_dir: str, names=None) -> list[str]:
    """Runs (or resumes) each chapter's default command into ``runs_dir/<name>`` and copies the
    picture it writes to ``out``. ``names``: a subset of :data:`RUNS` (default: all)."""
    written, done = [], set()
    for picture in names or RUNS:
        if picture not in RUNS:
            raise ValueError(f"unknown picture {picture!r}; choose from {sorted(RUNS)}")
        run, commands, produced = RUNS[picture]
        workdir = os.path.join(runs_dir, run)
        for command in commands if run not in done else ():
            command = [sys.executable, *command, f"--workdir={workdir}"]
            print("running:", " ".join(command[1:]), flush=True)
            subprocess.run(command, check=True, cwd=REPO)
        done.add(run)
        source = os.path.join(workdir, produced)
        if not os.path.exists(source):
            raise FileNotFoundError(f"run {run!r} wrote no {produced} into {workdir}")
        target = os.path.join(out, picture)
        staging = target + ".partial"
        shutil.copyfile(source, staging)
        os.replace(staging, target)  # atomic: a half-copied picture never replaces a good one
        written.append(target)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "images"), help="where to write")
    parser.add_argument("--runs", action="store_true", help="also train and draw the runs")
    parser.add_argument(
        "--runs_dir", default=os.path.join(REPO, "runs", "docs"), help="workdirs of the runs"
    )
    parser.add_argument(
        "--only", nargs="*", default=None, metavar="PICTURE", help=f"runs among {sorted(RUNS)}"
    )
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    written = draw_functions(args.out)
    if args.runs:
        written += draw_runs(args.out, args.runs_dir, args.only)
    for path in written:
        shrink(path)
        print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path) // 1024} KiB)")


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    main()
