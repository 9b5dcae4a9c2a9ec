"""Runs the test-only two-player task (tests/training/contract_tasks.py) as a process that can
be killed: ``python -m tests.training.two_player_run WORKDIR TOTAL_STEPS OUT.npz [KILL_AT]``.

With ``--deterministic`` semantics (op determinism, seeded). ``KILL_AT``: the process SIGKILLs
itself when it is about to save the checkpoint of that step (so the newest checkpoint on disk
is the one before, and the re-run replays the steps in between). Without it, the run ends by
writing every variable of its final checkpoint state (models, optimizers, step) to OUT.npz.
"""

from __future__ import annotations

import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.training.contract_tasks import TwoPlayerOptions, TwoPlayerTask, two_player_data  # noqa: E402
from yeehaw_tf.training import Trainer  # noqa: E402


def main(workdir: str, total: int, out: str, kill_at: int | None) -> None:
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    trainer = Trainer(
        TwoPlayerTask(TwoPlayerOptions()),
        build_optimizer=lambda: keras.optimizers.Adam(0.01),
        workdir=workdir,
        seed=7,
        steps_per_loop=2,
        checkpoint_every=4,
    )
    if kill_at is not None:
        save = trainer.checkpoints.save

        def save_or_die(step):
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return save(step)

        trainer.checkpoints.save = save_or_die
    trainer.train(two_player_data(), total, verbose=1)
    variables = [v for m in trainer.models.values() for v in m.weights]
    variables += [v for o in trainer.optimizers.values() for v in o.variables]
    arrays = {f"v{i}": np.array(v) for i, v in enumerate(variables)}
    np.savez(out, step=trainer.step.numpy(), **arrays)


if __name__ == "__main__":
    kill = int(sys.argv[4]) if len(sys.argv) > 4 else None
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], kill)
