"""Preemption: on SIGTERM to any worker, every worker saves a checkpoint at the next loop
boundary and the process exits with :data:`PREEMPTED_EXIT_CODE`; re-running resumes.

Built on ``tf.distribute.experimental.PreemptionCheckpointHandler``: it works for one process
(any local strategy) and under ``MultiWorkerMirroredStrategy`` (the workers agree through the
coordination service).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Callable

import tensorflow as tf
from absl import logging

from yeehaw_tf.training.checkpointing import Checkpoints, describe_error
from yeehaw_tf.training.strategy import is_chief

# Exit status after a SIGTERM (preemption) was answered with a checkpoint: TF's restart
# convention (the status its PreemptionCheckpointHandler uses on Borg); re-running resumes.
PREEMPTED_EXIT_CODE = 42


class Preemption:
    """One ``PreemptionCheckpointHandler`` per Trainer, made on the first :meth:`listen` (making
    one restores the latest checkpoint, as the Trainer already did, and installs its SIGTERM
    handler); later calls listen again. SIGTERM's previous handler is put back afterwards."""

    def __init__(self, strategy, checkpoints: Checkpoints, step: Callable[[], int]):
        self._strategy = strategy
        self._checkpoints = checkpoints
        self._step = step
        self._handler = None

    @contextlib.contextmanager
    def listen(self):
        """Yields the handler (``None`` if it could not be made, e.g. off the main thread);
        call ``handler.save_checkpoint_if_preempted(checkpoint_number=step)`` at boundaries."""
        previous = signal.getsignal(signal.SIGTERM)
        handler = self._handler
        if handler is None:
            resolver = getattr(self._strategy, "cluster_resolver", None)
            if resolver is not None and not resolver.cluster_spec().jobs:
                resolver = None
            try:
                handler = tf.distribute.experimental.PreemptionCheckpointHandler(
                    resolver,
                    self._checkpoints.manager,
                    termination_config=tf.distribute.experimental.TerminationConfig(
                        exit_fn=self._exit
                    ),
                )
            except Exception as e:  # noqa: BLE001 - e.g. not the main thread: train without it
                logging.warning("SIGTERM will not save a checkpoint: %s", describe_error(e))
                handler = None
            self._handler = handler
        elif hasattr(handler, "_sigterm_handler_fn"):  # a later train(): listen again
            try:
                signal.signal(signal.SIGTERM, handler._sigterm_handler_fn)
            except ValueError:
                pass
        try:
            yield handler
        finally:
            if signal.getsignal(signal.SIGTERM) is not previous and previous is not None:
                try:
                    signal.signal(signal.SIGTERM, previous)
                except ValueError:
                    pass

    def _exit(self) -> None:
        if not is_chief(self._strategy):  # this worker's share of the save was scratch
            shutil.rmtree(os.path.dirname(self._checkpoints.directory), ignore_errors=True)
        print(
            f"preempted (SIGTERM): saved {self._checkpoints.latest} at step "
            f"{self._step()}; re-run the same command to resume",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(PREEMPTED_EXIT_CODE)
