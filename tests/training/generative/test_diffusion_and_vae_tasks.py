"""The ``diffusion`` and ``vae`` tasks end to end on tiny settings: the EMA update, the
SavedModel's whole sampling loop against the Keras sampler (same seed, same images), the
ε-network's TFLite parity, scores and pictures; the VAE's ELBO run and decoder export."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.helpers import run_cli
from yeehaw_tf.export.saved_model import ServingModel
from yeehaw_tf.training import Trainer
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.experiment import run_experiment
from yeehaw_tf.training.runs import load_run
from yeehaw_tf.training.tasks import DiffusionOptions, DiffusionTask
from yeehaw_tf.training.tasks.generative.data import to_unit

TINY_DIFFUSION = dict(
    num_timesteps=20, unet_widths=(8, 8), num_scored=20, sampling_steps=(2, 20), sample_every=2
)


@pytest.fixture(scope="module")
def diffusion_run(tmp_path_factory, data_dir):
    workdir = str(tmp_path_factory.mktemp("diffusion"))
    config = make_config(
        task="diffusion",
        workdir=workdir,
        data_dir=data_dir,
        train_steps=4,
        batch_size=16,
        steps_per_loop=2,
        quantize=("float32",),
        **TINY_DIFFUSION,
    )
    return workdir, run_experiment(config, verbose=0)


def test_a_diffusion_run_scores_every_sampler_and_draws_the_strips(diffusion_run):
    workdir, summary = diffusion_run
    labels = dict(summary["rows"])
    for name in ("ddpm IS / FID", "ddim_2 IS / FID", "ddim_20 IS / FID", "real IS / FID"):
        assert name in labels
    for name in ("samples/forward_reverse.png", "samples/final.png", "scores_vs_steps.png"):
        assert os.path.getsize(os.path.join(workdir, name)) > 0
    formats = summary["export"]["formats"]
    assert formats["float32"]["passed"] and formats["float32"]["max_abs_diff"] <= 1e-4
    assert {"ADD", "CONV_2D"} <= set(formats["float32"]["ops"])
    assert formats["saved_model"]["signatures"]["sample"]["passed"]


def test_the_saved_models_sampler_gives_the_keras_samplers_images(diffusion_run, data_dir):
    workdir, _ = diffusion_run
    sample = ServingModel(os.path.join(workdir, "export", "saved_model"), "sample")
    run = load_run(workdir)  # the trained run, as export rebuilds it
    keras_sampler = run.task.sampler(run.model)
    for steps, eta in ((20, 1.0), (3, 0.0)):
        args = dict(
            num_images=np.int32(3), seed=np.int64(11), steps=np.int32(steps), eta=np.float32(eta)
        )
        served = sample(**args)["images"]
        assert served.dtype == np.uint8 and served.shape == (3, 8, 8, 1)
        np.testing.assert_allclose(
            served.astype(int), keras_sampler(*args.values()).numpy().astype(int), atol=1
        )


def test_the_sampler_serves_in_a_tensorflow_only_process(diffusion_run):
    """The SavedModel's ``sample`` signature needs TensorFlow alone (no yeehaw_tf, no Keras
    import), and the same seed gives the same images there."""
    workdir, _ = diffusion_run
    path = os.path.join(workdir, "export", "saved_model")
    script = (
        "import sys, tensorflow as tf\n"
        f"m = tf.saved_model.load({path!r})\n"
        "f = m.signatures['sample']\n"
        "a = f(num_images=tf.constant(2), seed=tf.constant(5, tf.int64), steps=tf.constant(4), "
        "eta=tf.constant(0.0))['images'].numpy()\n"
        "b = f(num_images=tf.constant(2), seed=tf.constant(5, tf.int64), steps=tf.constant(4), "
        "eta=tf.constant(0.0))['images'].numpy()\n"
        "assert 'yeehaw_tf' not in sys.modules and (a == b).all() and a.shape == (2, 8, 8, 1)\n"
        "print('served', a.dtype)\n"
    )
    result = run_cli("-c", script)
    assert result.returncode == 0 and "served uint8" in result.stdout, result.stderr[-2000:]


def test_the_moving_average_follows_the_weights(tmp_path):
    import keras
    import tensorflow as tf

    decay = 0.9
    task = DiffusionTask(
        DiffusionOptions(**TINY_DIFFUSION, ema_decay=decay), image_shape=(8, 8, 1), num_classes=10
    )
    trainer = Trainer(
        task, build_optimizer=lambda: keras.optimizers.SGD(0.1), workdir=str(tmp_path)
    )
    online, average = trainer.models["eps_model"], trainer.models["ema_eps_model"]
    assert not average.trainable_variables  # no optimizer moves it
    start = [w.numpy() for w in online.weights]
    np.testing.assert_array_equal(start[0], average.weights[0].numpy())
    images = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype(np.float32)
    trainer.train(tf.data.Dataset.from_tensors(images).repeat(), 1, verbose=0)
    for before, after, ema in zip(start, online.weights, average.weights, strict=True):
        np.testing.assert_allclose(
            ema.numpy(), decay * before + (1 - decay) * after.numpy(), rtol=1e-5, atol=1e-7
        )
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(start, online.weights, strict=True))


@pytest.mark.parametrize(
    "options,match",
    [
        ({"num_timesteps": 1}, "num_steps"),
        ({"beta_end": 1.5}, "beta_end"),
        ({"beta_start": -0.1}, "beta_start"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"sampling_steps": (0,)}, "sampling_steps"),
    ],
)
def test_bad_diffusion_options_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        DiffusionOptions(**options)


def test_a_vae_run_reports_the_elbo_terms_and_exports_its_decoder(tmp_path, data_dir):
    config = make_config(
        task="vae",
        workdir=str(tmp_path),
        data_dir=data_dir,
        train_steps=4,
        batch_size=16,
        width=8,
        latent_dim=4,
        num_scored=0,  # scoring is tested with the gan and diffusion runs
        quantize=("float32",),
    )
    summary = run_experiment(config, verbose=0)
    assert {"reconstruction", "kl"} <= set(summary["train"])
    assert summary["train"]["loss"] == pytest.approx(
        summary["train"]["reconstruction"] + summary["train"]["kl"], rel=1e-4
    )
    assert os.path.getsize(tmp_path / "samples" / "reconstructions.png") > 0
    assert all(row["passed"] for row in summary["export"]["formats"].values())
    serve = ServingModel(str(tmp_path / "export" / "saved_model"))
    assert serve(latents=np.zeros((2, 4), np.float32))["images"].shape == (2, 8, 8, 1)
    assert to_unit(np.array([0, 255], np.uint8)).numpy().tolist() == [-1.0, 1.0]
