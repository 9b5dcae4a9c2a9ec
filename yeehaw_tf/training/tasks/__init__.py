"""One file per training paradigm; each supplies a model, a loss and metrics to the Trainer."""

from yeehaw_tf.training.tasks.classification import ClassificationTask
from yeehaw_tf.training.tasks.segmentation import SegmentationTask

TASKS = {"classification": ClassificationTask, "segmentation": SegmentationTask}
# What ``train.py --task=NAME`` trains when --model, --dataset or --epochs is not given.
TASK_DEFAULTS = {
    "classification": {"model": "small_resnet", "dataset": "digits", "epochs": 30},
    "segmentation": {"model": "unet", "dataset": "shapes", "epochs": 6},
}


def task_names() -> list[str]:
    return sorted(TASKS)


def validate_task_name(name: str) -> str:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(task_names())}")
    return name


def task_from_dict(config: dict):
    """The task a run record describes (``{"task": name, ...fields}``)."""
    return TASKS[validate_task_name(config.get("task", "classification"))].from_dict(config)


__all__ = [
    "TASKS",
    "TASK_DEFAULTS",
    "ClassificationTask",
    "SegmentationTask",
    "task_from_dict",
    "task_names",
    "validate_task_name",
]
