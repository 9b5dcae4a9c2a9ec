"""--adversarial_training=fgsm: Goodfellow et al.'s alpha * J(x) + (1 - alpha) * J(x_adv) with
x_adv the FGSM images of the current weights, computed inside the training step; checked
against the float64 linear-softmax reference, trained end to end, refused when misused."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.attacks.references import LinearSoftmax, np_fgsm
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.experiment import run_experiment
from yeehaw_tf.training.tasks import ClassificationOptions, ClassificationTask

SHAPE = (4, 4, 2)


def _task(epsilon, alpha):
    options = ClassificationOptions(
        model="mlp",
        adversarial_training="fgsm",
        adversarial_epsilon=epsilon,
        adversarial_weight=alpha,
    )
    task = ClassificationTask(
        options, num_classes=5, input_shape=SHAPE, mean=(0.0, 0.0), std=(1.0, 1.0)
    )
    task.build_models()  # sets up the per-example loss
    return task


@pytest.mark.parametrize("epsilon, alpha", [(8.0, 0.5), (20.0, 0.3), (0.0, 0.5)])
def test_the_training_loss_is_the_mix_of_clean_and_fgsm_losses_in_float64(epsilon, alpha):
    reference = LinearSoftmax.random(SHAPE, classes=5, seed=1)
    model = reference.keras_model(SHAPE)
    rng = np.random.default_rng(2)
    x = rng.uniform(20, 235, size=(6, *SHAPE)).astype(np.float32).astype(np.float64)
    y = rng.integers(0, 5, size=6)
    task = _task(epsilon, alpha)
    result = task.compute_loss({"model": model}, (tf.constant(x, tf.float32), y), True, None)
    adversarial, smallest = np_fgsm(reference, x, y, epsilon)
    assert smallest > 1e-6  # no sign ties
    expected = alpha * reference.loss(x, y) + (1 - alpha) * reference.loss(adversarial, y)
    np.testing.assert_allclose(float(result.total), expected.sum(), rtol=1e-5)
    np.testing.assert_allclose(result.outputs, reference.logits(x), rtol=1e-4, atol=1e-4)
    # evaluation is plain cross-entropy on the clean images
    clean = task.compute_loss({"model": model}, (tf.constant(x, tf.float32), y), False, None)
    np.testing.assert_allclose(float(clean.total), reference.loss(x, y).sum(), rtol=1e-5)


def test_adversarial_training_runs_with_both_loops_and_exports(data_dir, tmp_path):
    for loop in ("custom", "fit"):
        config = make_config(
            workdir=str(tmp_path / loop),
            data_dir=data_dir,
            model="mlp",
            adversarial_training="fgsm",
            adversarial_epsilon=32.0,
            train_steps=6,
            steps_per_loop=3,
            loop=loop,
            export=loop == "custom",
            quantize=("float32",),
        )
        summary = run_experiment(config, verbose=0)
        assert np.isfinite(summary["train"]["loss"]) and summary["test"]["accuracy"] > 0.1
        if loop == "custom":  # the attack lives in the step, never in the exported graph
            assert "export_error" not in summary


@pytest.mark.parametrize(
    "options, match",
    [
        ({"adversarial_epsilon": -1.0}, "adversarial_epsilon must be a number in"),
        ({"adversarial_epsilon": 300.0}, "adversarial_epsilon must be a number in"),
        ({"adversarial_weight": 1.5}, "adversarial_weight must be in"),
        ({"loss": "hinge"}, "does not combine with aux_logits or loss=hinge"),
        ({"adversarial_training": "pgd"}, "unknown adversarial_training 'pgd'"),
    ],
)
def test_bad_adversarial_options_are_refused_by_name(options, match):
    with pytest.raises(ValueError, match=match):
        ClassificationOptions(**{"adversarial_training": "fgsm", **options})
