"""What the experiment scripts share: a run by options (as train.py's flags give them), the
training loss curve from its TensorBoard log, means over seeds and a markdown table."""

from __future__ import annotations

import glob
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def train(workdir: str, **options) -> dict:
    """``python train.py --workdir=WORKDIR --FLAG=VALUE ...`` in-process (no export unless
    asked); returns the run summary. A finished workdir is evaluated again, not retrained."""
    from yeehaw_tf.training.config import make_config
    from yeehaw_tf.training.experiment import run_experiment

    options.setdefault("export", False)
    return run_experiment(make_config(workdir=workdir, **options), verbose=0)


def accuracy(summary: dict) -> float:
    return float(summary["test"]["accuracy"])


def train_curve(workdir: str, tag: str = "loss") -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of a training scalar from ``WORKDIR/tensorboard/train``."""
    import tensorflow as tf

    points = {}
    for path in sorted(glob.glob(os.path.join(workdir, "tensorboard", "train", "events.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    points[event.step] = float(tf.make_ndarray(value.tensor))
    steps = np.array(sorted(points))
    return steps, np.array([points[s] for s in steps])


def mean_std(values) -> str:
    values = np.asarray(values, np.float64)
    return f"{values.mean():.4f} ± {values.std():.4f}"


def markdown(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write(out: str, name: str, table: str, results: dict) -> None:
    """``OUT/NAME.md`` (the table) and ``OUT/NAME.json`` (every measured number)."""
    from yeehaw_tf.atomic import atomic_write_text

    os.makedirs(out, exist_ok=True)
    atomic_write_text(os.path.join(out, f"{name}.md"), table + "\n")
    atomic_write_text(os.path.join(out, f"{name}.json"), json.dumps(results, indent=2))
    print(table, flush=True)
