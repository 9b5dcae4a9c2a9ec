"""One file per training paradigm; each supplies a model, a loss and metrics to the Trainer."""

from yeehaw_tf.training.tasks.classification import ClassificationTask

TASKS = {"classification": ClassificationTask}


def task_names() -> list[str]:
    return sorted(TASKS)


def validate_task_name(name: str) -> str:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(task_names())}")
    return name


__all__ = ["TASKS", "ClassificationTask", "task_names", "validate_task_name"]
