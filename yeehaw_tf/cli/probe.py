"""``python -m yeehaw_tf.analysis.probe --workdir W``: the linear and kNN probes of a
pre-trained self-supervised run, printed and written to ``W/probe.json``."""

from __future__ import annotations

import json
import os

from absl import app, flags

from yeehaw_tf.analysis.probe import DEFAULT_K
from yeehaw_tf.atomic import atomic_write_text
from yeehaw_tf.training.tasks.self_supervised.probing import probe_workdir

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("workdir", None, "A self_supervised run's workdir.")
    flags.DEFINE_string("data_dir", None, "TFDS data directory (default: the run's).")
    flags.DEFINE_integer("k", None, f"kNN neighbours (default: the run's, {DEFAULT_K}).")


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.workdir:
        raise app.UsageError("--workdir is required: a self_supervised run's workdir")
    try:
        results = probe_workdir(FLAGS.workdir, FLAGS.data_dir, FLAGS.k)
    except (ValueError, FileNotFoundError) as e:
        raise app.UsageError(str(e)) from e
    atomic_write_text(os.path.join(FLAGS.workdir, "probe.json"), json.dumps(results, indent=2))
    print(f"linear probe accuracy  {results['linear_probe']:.4f}")
    print(f"kNN (k={results['k']}) accuracy   {results['knn']:.4f}")


def run() -> None:
    define_flags()
    app.run(main)
