"""A finished (or interrupted) run read back from its workdir: the record ``train.py`` wrote
(``config.json``), the task it describes and its models restored from a checkpoint.

Export, the attacks report, a distillation teacher and ``--init_from`` all load runs this way,
so a workdir means the same thing everywhere. :func:`load_model` also takes a ``.keras`` file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import keras
import tensorflow as tf

CONFIG_FILE = "config.json"


@dataclasses.dataclass(frozen=True)
class Run:
    """A run read back: its ``record`` (``config.json``), ``task``, restored ``models`` and the
    ``checkpoint`` they came from."""

    record: dict
    task: Any
    models: dict
    checkpoint: str

    @property
    def model(self) -> keras.Model:
        """The model evaluation and export use (the task's inference model)."""
        return self.task.inference_model(self.models)


def read_record(workdir: str) -> dict:
    """``workdir/config.json``, checked to be a run record."""
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{workdir} holds no run: {path} does not exist")
    try:
        with open(path) as f:
            record = json.load(f)
        record["train"], record["task"]  # noqa: B018 - the keys every record has
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a run record written by train.py ({e!r})") from None
    return record


def load_run(workdir: str, checkpoint: str | None = None) -> Run:
    """The run in ``workdir`` with its models restored from ``checkpoint`` (default: the
    latest). Raises ``FileNotFoundError`` when there is no run or no checkpoint and
    ``ValueError`` when the checkpoint does not fit the recorded models."""
    from yeehaw_tf.training.checkpointing import describe_error
    from yeehaw_tf.training.tasks import task_from_dict

    record = read_record(workdir)
    directory = os.path.join(workdir, "checkpoints")
    checkpoint = checkpoint or tf.train.latest_checkpoint(directory)
    if checkpoint is None:
        raise FileNotFoundError(f"no checkpoint in {directory}")
    if not tf.io.gfile.exists(checkpoint + ".index"):
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    task = task_from_dict(record["task"])
    models = task.build_models()
    try:
        status = tf.train.Checkpoint(models=models).restore(checkpoint).expect_partial()
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as e:
        raise ValueError(
            f"checkpoint {checkpoint} does not fit the model described by "
            f"{os.path.join(workdir, CONFIG_FILE)}: {describe_error(e)}"
        ) from None
    return Run(record, task, models, checkpoint)


def load_model(path: str, what: str = "path") -> keras.Model:
    """The trained model at ``path``: a run's workdir (its inference model, restored from the
    latest checkpoint) or a ``.keras`` file (loaded with ``safe_mode=True``). ``what`` names
    the argument in errors (e.g. ``"--teacher"``); every problem with ``path`` is a
    ``ValueError`` saying so (the command lines show it without a traceback)."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"{what} must be a workdir or a .keras file, got {path!r}")
    if path.endswith(".keras"):
        if not os.path.isfile(path):
            raise ValueError(f"{what}: {path} does not exist")
        import yeehaw_tf  # noqa: F401 - registers every serializable class

        return keras.saving.load_model(path, safe_mode=True, compile=False)
    if not os.path.isdir(path):
        raise ValueError(f"{what}: {path} is neither a workdir nor a .keras file")
    try:
        return load_run(path).model
    except (FileNotFoundError, ValueError) as e:
        raise ValueError(f"{what}: {e}") from None
