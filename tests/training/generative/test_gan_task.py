"""The ``gan`` task end to end on tiny settings: training with each loss's recipe, samples,
scores, export (``latents`` and ``generate`` signatures), resume through the CLI, the NaN guard
for both players, and weight clipping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import REPO, run_cli
from yeehaw_tf.export.saved_model import ServingModel
from yeehaw_tf.training import Trainer
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.experiment import run_experiment
from yeehaw_tf.training.step import NonFiniteError
from yeehaw_tf.training.tasks import GanOptions, GanTask

TINY = dict(width=8, latent_dim=8, num_scored=40, sample_every=3)


@pytest.fixture(scope="module")
def wgan_gp_run(tmp_path_factory, data_dir):
    workdir = str(tmp_path_factory.mktemp("gan"))
    config = make_config(
        task="gan",
        workdir=workdir,
        data_dir=data_dir,
        loss="wgan_gp",
        train_steps=6,
        batch_size=16,
        checkpoint_every=3,
        steps_per_loop=3,
        quantize=("float32",),
        **TINY,
    )
    return workdir, run_experiment(config, verbose=0)


def test_a_run_trains_both_players_and_writes_samples_scores_and_exports(wgan_gp_run):
    workdir, summary = wgan_gp_run
    assert summary["steps"] == 6
    labels = dict(summary["rows"])
    assert labels["loss"] == "wgan_gp" and "FID (ours)" in labels and "IS (ours)" in labels
    for name in ("step_0000003.png", "step_0000006.png", "final.png"):
        assert os.path.getsize(os.path.join(workdir, "samples", name)) > 0
    with open(os.path.join(workdir, "scores.json")) as f:
        scores = json.load(f)
    assert scores["scores"]["fid"] > 0 and 1.0 <= scores["scores"]["inception_score"] <= 10.0
    assert scores["reference"]["test_inception_score"] > 5  # our digits scorer is confident
    assert scores["lipschitz"]["max"] > 0
    # WGAN-GP's five critic steps per generator step, on both optimizers' counters
    train = summary["train"]
    assert "discriminator_loss" in train and "generator_loss" in train
    report = summary["export"]
    assert report["formats"]["saved_model"]["signatures"]["generate"]["passed"]
    assert all(row["passed"] for row in report["formats"].values())


def test_the_exported_generator_serves_latents_and_seeds(wgan_gp_run):
    workdir, _ = wgan_gp_run
    path = os.path.join(workdir, "export", "saved_model")
    serve = ServingModel(path)
    latents = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    images = serve(latents=latents)["images"]
    assert images.dtype == np.uint8 and images.shape == (5, 8, 8, 1)
    with pytest.raises(ValueError, match=r"input 'latents' must be float32 \[\?, 8\]"):
        serve(latents=np.zeros((2, 9), np.float32))
    generate = ServingModel(path, "generate")
    first = generate(num_images=np.int32(4), seed=np.int64(3))["images"]
    again = generate(num_images=np.int32(4), seed=np.int64(3))["images"]
    np.testing.assert_array_equal(first, again)
    # the seed signature draws its latents as the task's own sampler does
    from yeehaw_tf.training.tasks.generative.common import seeded_normal

    np.testing.assert_array_equal(first, serve(latents=seeded_normal([4, 8], 3).numpy())["images"])


def _trainer(workdir, loss="wgan", **options):
    task = GanTask(
        GanOptions(loss=loss, **{**TINY, **options}), image_shape=(8, 8, 1), num_classes=10
    )
    return task, Trainer(
        task,
        build_optimizer=lambda: None,
        workdir=str(workdir),
        checkpoint_every=100,
        steps_per_loop=2,
    )


def _images(n=64):
    rng = np.random.default_rng(0)
    data = rng.uniform(-1, 1, size=(n, 8, 8, 1)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(data).batch(16, drop_remainder=True).repeat()


def test_wgan_clips_every_critic_weight_after_each_update(tmp_path):
    task, trainer = _trainer(tmp_path, "wgan")
    assert task.recipe.n_critic == 5 and task.recipe.clip == 0.01
    trainer.train(_images(), 2, verbose=0)
    for variable in trainer.models["discriminator"].trainable_variables:
        assert np.max(np.abs(variable.numpy())) <= 0.01 + 1e-7, variable.path
    # five critic updates and one generator update per step
    assert int(trainer.optimizers["discriminator"].iterations.numpy()) == 10
    assert int(trainer.optimizers["generator"].iterations.numpy()) == 2


def test_keras_fit_drives_the_same_alternating_step(tmp_path):
    task, trainer = _trainer(tmp_path, "wgan_gp", n_critic=2)
    trainer.fit(_images(), 4, verbose=0)
    assert int(trainer.optimizers["discriminator"].iterations.numpy()) == 8
    assert int(trainer.optimizers["generator"].iterations.numpy()) == 4
    assert os.path.exists(tmp_path / "samples" / "step_0000003.png")  # sample_every=3


@pytest.mark.parametrize("player", ["discriminator", "generator"])
def test_a_diverging_player_is_caught_by_the_nan_guard(tmp_path, player):
    _, trainer = _trainer(tmp_path, "non_saturating")
    model = trainer.models[player]
    kernel = next(v for v in model.trainable_variables if "kernel" in v.path)
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    before = {k: [w.numpy() for w in m.weights] for k, m in trainer.models.items()}
    with pytest.raises(NonFiniteError, match="NaN or infinite"):
        trainer.train(_images(), 2, verbose=0)
    assert int(trainer.step.numpy()) == 0
    for name, m in trainer.models.items():  # nothing applied, to either player
        for old, new in zip(before[name], m.weights, strict=True):
            np.testing.assert_array_equal(old, new.numpy())


def test_a_killed_cli_run_resumes_both_players(tmp_path, data_dir):
    """``train.py --task=gan`` killed (SIGKILL) after its first checkpoint, then re-run
    unchanged: it resumes and finishes, with both optimizers' counters at the last step."""
    workdir = str(tmp_path / "run")
    command = [
        sys.executable,
        "train.py",
        "--task=gan",
        "--loss=hinge",
        f"--workdir={workdir}",
        f"--data_dir={data_dir}",
        "--width=8",
        "--latent_dim=8",
        "--num_scored=0",
        "--batch_size=16",
        "--checkpoint_every=2",
        "--steps_per_loop=2",
        "--train_steps=60",
        "--export=false",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoints = os.path.join(workdir, "checkpoints")
    deadline = time.monotonic() + 300
    while tf.train.latest_checkpoint(checkpoints) is None:
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL  # killed mid-run, not finished
    killed_at = int(tf.train.latest_checkpoint(checkpoints).rsplit("-", 1)[1])
    assert killed_at < 60
    result = run_cli(*command[1:])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from" in result.stdout + result.stderr
    _, trainer = _trainer(workdir, "hinge")
    assert trainer.restore() == 60
    for name in ("discriminator", "generator"):
        assert int(trainer.optimizers[name].iterations.numpy()) == 60


@pytest.mark.parametrize(
    "options,match",
    [
        ({"loss": "lsgan"}, "unknown loss 'lsgan'"),
        ({"n_critic": 0}, "n_critic must be an integer >= 1"),
        ({"gp_weight": -2.0}, "gp_weight"),
        ({"clip": 0.0}, "clip must be > 0"),
        ({"latent_dim": 0}, "latent_dim"),
    ],
)
def test_bad_options_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        GanOptions(**options)
