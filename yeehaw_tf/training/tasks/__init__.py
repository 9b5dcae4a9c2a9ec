"""One file per training paradigm, each implementing the Task contract (``base.py``).

``TASKS`` is the only place where task names appear: everything else (``train.py``, the
experiment runner, the configuration, export) goes through it.
"""

from yeehaw_tf.training.tasks.base import LossOutput, Task, TaskData, TaskOptions
from yeehaw_tf.training.tasks.classification import ClassificationOptions, ClassificationTask
from yeehaw_tf.training.tasks.detection import DetectionOptions, DetectionTask
from yeehaw_tf.training.tasks.distillation import DistillationOptions, DistillationTask
from yeehaw_tf.training.tasks.generative import (
    DiffusionOptions,
    DiffusionTask,
    GanOptions,
    GanTask,
    VaeOptions,
    VaeTask,
)
from yeehaw_tf.training.tasks.segmentation import SegmentationOptions, SegmentationTask
from yeehaw_tf.training.tasks.self_supervised import SelfSupervisedOptions, SelfSupervisedTask
from yeehaw_tf.training.tasks.supervised import SupervisedTask

TASKS: dict[str, type[Task]] = {
    ClassificationTask.name: ClassificationTask,
    SegmentationTask.name: SegmentationTask,
    DetectionTask.name: DetectionTask,
    DistillationTask.name: DistillationTask,
    SelfSupervisedTask.name: SelfSupervisedTask,
    GanTask.name: GanTask,
    DiffusionTask.name: DiffusionTask,
    VaeTask.name: VaeTask,
}
# What ``train.py`` trains without --task.
DEFAULT_TASK = ClassificationTask.name


def task_names() -> list[str]:
    return sorted(TASKS)


def validate_task_name(name: str) -> str:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(task_names())}")
    return name


def get_task(name: str) -> type[Task]:
    return TASKS[validate_task_name(name)]


def task_from_dict(record: dict) -> Task:
    """The task a run record describes (``{"task": name, "options": {...}, ...}``)."""
    return get_task(record.get("task", "")).from_dict(record)


__all__ = [
    "DEFAULT_TASK",
    "TASKS",
    "ClassificationOptions",
    "ClassificationTask",
    "DetectionOptions",
    "DetectionTask",
    "DistillationOptions",
    "DistillationTask",
    "DiffusionOptions",
    "DiffusionTask",
    "GanOptions",
    "GanTask",
    "LossOutput",
    "SegmentationOptions",
    "SegmentationTask",
    "SelfSupervisedOptions",
    "SelfSupervisedTask",
    "SupervisedTask",
    "Task",
    "TaskData",
    "TaskOptions",
    "VaeOptions",
    "VaeTask",
    "get_task",
    "task_from_dict",
    "task_names",
    "validate_task_name",
]
