"""SIGTERM (preemption) during training: the worker(s) save a checkpoint at the next loop
boundary and exit with PREEMPTED_EXIT_CODE; re-running the same command resumes from it."""

import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from tests.cli.test_train_cli import _free_ports, _tf_config
from tests.helpers import REPO
from yeehaw_tf.training.trainer import PREEMPTED_EXIT_CODE


def _start(args, env=None):
    return subprocess.Popen(
        [sys.executable, "train.py", *args],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )


def _wait_for_checkpoint(directory, process, timeout=240):
    """Polls until ``directory`` holds a checkpoint (the loop is running), or fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tf.train.latest_checkpoint(directory):
            return
        if process.poll() is not None:
            pytest.fail(f"training ended before its first checkpoint: {process.stderr.read()}")
        time.sleep(0.2)
    pytest.fail("no checkpoint appeared")


def _step(checkpoint_dir):
    path = tf.train.latest_checkpoint(checkpoint_dir)
    return int(tf.train.load_checkpoint(path).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


def _args(workdir, data_dir):
    return [
        f"--workdir={workdir}",
        f"--data_dir={data_dir}",
        "--train_steps=2000",  # far more than the test lets it run
        "--checkpoint_every=5",
        "--steps_per_loop=5",
        "--noexport",
    ]


def test_sigterm_saves_and_exits_and_the_same_command_resumes(tmp_path, data_dir):
    workdir = tmp_path / "run"
    checkpoints = str(workdir / "checkpoints")
    process = _start(_args(workdir, data_dir))
    _wait_for_checkpoint(checkpoints, process)
    time.sleep(1.0)  # let it train past that checkpoint
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == PREEMPTED_EXIT_CODE, err[-3000:]
    assert "preempted (SIGTERM): saved" in err and "Traceback" not in err
    saved = _step(checkpoints)
    assert saved > 0 and saved % 5 == 0  # saved at a loop boundary
    # the same command resumes from the preemption checkpoint (stopped again once it has)
    process = _start(_args(workdir, data_dir))
    deadline = time.monotonic() + 240
    while _step(checkpoints) == saved and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == PREEMPTED_EXIT_CODE, err[-3000:]
    assert f"ckpt-{saved} at step {saved}" in out  # "resumed from .../ckpt-N at step N"
    assert _step(checkpoints) > saved


@pytest.mark.slow
def test_sigterm_to_one_worker_makes_every_worker_save(tmp_path, data_dir):
    ports = _free_ports(2)
    args = _args(tmp_path / "multi", data_dir)
    workers = [_start(args, {"TF_CONFIG": _tf_config(ports, i)}) for i in range(2)]
    _wait_for_checkpoint(str(tmp_path / "multi" / "checkpoints"), workers[0])
    time.sleep(1.0)
    workers[1].send_signal(signal.SIGTERM)  # the non-chief worker is preempted
    outputs = [w.communicate(timeout=180) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == PREEMPTED_EXIT_CODE, err[-3000:]
    assert "preempted (SIGTERM): saved" in outputs[0][1]
    assert _step(str(tmp_path / "multi" / "checkpoints")) % 5 == 0
