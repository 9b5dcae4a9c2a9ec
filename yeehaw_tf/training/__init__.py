"""The Trainer (custom loop and fit), strategies, tasks, and whole runs."""

from yeehaw_tf.training.config import TrainConfig
from yeehaw_tf.training.experiment import (
    export_workdir,
    format_export_report,
    format_summary,
    run_experiment,
    seed_everything,
)
from yeehaw_tf.training.strategy import configure_cpu_devices, is_chief, make_strategy
from yeehaw_tf.training.trainer import Trainer

__all__ = [
    "TrainConfig",
    "Trainer",
    "configure_cpu_devices",
    "export_workdir",
    "format_export_report",
    "format_summary",
    "is_chief",
    "make_strategy",
    "run_experiment",
    "seed_everything",
]
