"""``train.py`` / ``yeehaw-train``: train, evaluate and export; ``--helpfull`` lists every flag,
grouped into run options and each task's options."""

from __future__ import annotations

import sys

from absl import app, flags

from yeehaw_tf.cli import start
from yeehaw_tf.cli.flags import config_from_flags, define_train_flags

FLAGS = flags.FLAGS


def main(argv) -> int:
    start(argv)
    from yeehaw_tf.training import configure_cpu_devices, format_summary
    from yeehaw_tf.training.experiment import run_experiment
    from yeehaw_tf.training.trainer import CheckpointError, NonFiniteError

    try:
        config = config_from_flags(FLAGS)
        print(f"workdir: {config.workdir}", flush=True)
        if config.num_cpu_devices > 1:
            configure_cpu_devices(config.num_cpu_devices)  # before any TF op runs
        summary = run_experiment(config, verbose=1)
    except (ValueError, CheckpointError, NonFiniteError) as e:  # a clear message, no traceback
        print(f"train.py: error: {e}", file=sys.stderr)
        return 1
    print(format_summary(summary), flush=True)
    return 1 if "export_error" in summary else 0


def run() -> None:
    """The console entry point."""
    define_train_flags()
    app.run(lambda argv: sys.exit(main(argv)))
