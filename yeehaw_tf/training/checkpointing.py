"""Checkpoints: the manager of a run's ``tf.train.Checkpoint``, restore with fallback past
unreadable files, and the clean-up of what interrupted saves leave behind.

A checkpoint holds every model and optimizer of the task (``models/<name>``,
``optimizers/<name>``), the step and epoch counters, ``skipped_steps`` and any task state. TF
writes a checkpoint's state file last, by rename, so a process killed mid-save leaves only
complete checkpoints listed.
"""

from __future__ import annotations

import os
import re
import time

import tensorflow as tf
from absl import logging

from yeehaw_tf.training.strategy import is_chief, writable_dir


class CheckpointError(RuntimeError):
    """The workdir's checkpoints exist but none can be restored into this model."""


def describe_error(error: Exception) -> str:
    """A short account of an error: a failed restore names its variables (not their values,
    which TensorFlow prints in full), anything else gives its first line, at most 300
    characters."""
    text = str(error).strip()
    # tf.Variable reprs ("<tf.Variable 'name' shape=(..) ...>") and Keras ones
    # ("<Variable path=name, shape=(..), ...>")
    variables = re.findall(r"<(?:tf\.)?Variable (?:path=|')([^,']+)'?,? shape=\(([^)]*)\)", text)
    if variables:
        found = re.search(r"Found (\d+) Python objects", text)
        total = int(found.group(1)) if found else len(variables)
        shown = ", ".join(f"{name} ({shape})" for name, shape in variables[:3])
        return (
            f"{total} variables of the model have no value in the checkpoint (a different "
            f"model?), e.g. {shown}"
        )
    line = text.splitlines()[0] if text else type(error).__name__
    return line[:300] + ("..." if len(line) > 300 else "")


def remove_staging_dirs(directory: str) -> None:
    """Deletes ``ckpt-N_temp`` folders: the half-written saves of an interrupted process (a
    complete save renames its files out of it, and the state file never lists one)."""
    for path in tf.io.gfile.glob(os.path.join(directory, "*_temp")):
        if tf.io.gfile.isdir(path):
            tf.io.gfile.rmtree(path)


class Checkpoints:
    """A run's checkpoints in ``workdir/checkpoints``.

    Every worker restores from the chief's directory (shared storage in a multi-host run); the
    others write their share of each collective save to a scratch directory (cleared here).
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, workdir: str, strategy, max_to_keep: int):
        self.checkpoint = checkpoint
        self.strategy = strategy
        self.max_to_keep = max_to_keep
        self.shared_dir = os.path.join(workdir, "checkpoints")
        self.directory = writable_dir(self.shared_dir, strategy)
        if not is_chief(strategy) and tf.io.gfile.isdir(self.directory):
            tf.io.gfile.rmtree(self.directory)  # scratch: a previous Trainer's leftovers
        self.manager = tf.train.CheckpointManager(
            checkpoint, self.directory, max_to_keep=max_to_keep
        )
        self.restored_path: str | None = None

    def save(self, step: int) -> str:
        return self.manager.save(checkpoint_number=step)

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def restore(self) -> bool:
        """Restores the newest readable checkpoint, if any; returns whether one was restored.

        If the newest checkpoint cannot be read, says so and falls back to the one before it,
        rather than silently starting from scratch. The chief then moves the unreadable ones to
        ``checkpoints/unreadable/`` (kept, not deleted) and lists only readable checkpoints in
        the state file, so nothing later (the preemption handler, ``python -m export``) trips
        over them; it also removes the staging folders (``ckpt-N_temp``) of interrupted saves.
        """
        chief = is_chief(self.strategy)
        source = self.manager
        if not chief:
            source = tf.train.CheckpointManager(
                self.checkpoint, self.shared_dir, max_to_keep=self.max_to_keep
            )
        paths = list(source.checkpoints)
        if chief:
            remove_staging_dirs(self.directory)
        for index in reversed(range(len(paths))):
            path = paths[index]
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except Exception as e:  # noqa: BLE001 - any failure to read means: try the previous one
                logging.warning(
                    "checkpoint %s is unreadable (%s); trying the previous one",
                    path,
                    describe_error(e),
                )
                continue
            self.restored_path = path
            if chief and index < len(paths) - 1:
                self._set_aside(paths[index + 1 :], paths[: index + 1])
            logging.info("restored %s", path)
            return True
        if paths:
            raise CheckpointError(
                f"no checkpoint in {self.shared_dir} could be restored into this "
                "model (the files are damaged, or were written by a differently configured "
                "model); move the directory away to start from scratch"
            )
        return False

    def _set_aside(self, unreadable: list[str], readable: list[str]) -> None:
        aside = os.path.join(self.directory, "unreadable")
        os.makedirs(aside, exist_ok=True)
        for path in unreadable:
            for name in tf.io.gfile.glob(path + ".*"):
                os.replace(name, os.path.join(aside, os.path.basename(name)))
        state = tf.train.get_checkpoint_state(self.directory)
        stamps = dict(
            zip(
                state.all_model_checkpoint_paths,
                state.all_model_checkpoint_timestamps,
                strict=False,
            )
        )
        # the manager only manages entries newer than last_preserved_timestamp: keep the stamps
        tf.compat.v1.train.update_checkpoint_state(
            self.directory,
            readable[-1],
            all_model_checkpoint_paths=readable,
            all_model_checkpoint_timestamps=[stamps.get(p, time.time()) for p in readable],
            last_preserved_timestamp=state.last_preserved_timestamp,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=self.max_to_keep
        )
        logging.warning("moved unreadable checkpoints %s to %s", unreadable, aside)
