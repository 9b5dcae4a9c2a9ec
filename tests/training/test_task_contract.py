"""The Task contract: several models and optimizers, an alternating step, step randomness,
the NaN guard over every optimizer group, positives normalised across replicas, and fit."""

from __future__ import annotations

import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL, run_cli
from tests.training.contract_tasks import (
    PositivesTask,
    TwoPlayerOptions,
    TwoPlayerTask,
    positives_data,
    positives_dataset,
    two_player_data,
)
from yeehaw_tf.training import Trainer
from yeehaw_tf.training.randomness import StepRandomness
from yeehaw_tf.training.tasks import TaskOptions
from yeehaw_tf.training.trainer import NonFiniteError


def _two_player(workdir, strategy=None, **options):
    return Trainer(
        TwoPlayerTask(TwoPlayerOptions(**options)),
        build_optimizer=lambda: keras.optimizers.Adam(0.01),
        workdir=str(workdir),
        strategy=strategy,
        seed=7,
        steps_per_loop=3,
        checkpoint_every=5,
    )


def _state(trainer) -> list[np.ndarray]:
    variables = [v for m in trainer.models.values() for v in m.weights]
    variables += [v for o in trainer.optimizers.values() for v in o.variables]
    return [np.array(v) for v in variables]


def test_two_models_and_optimizers_train_with_an_alternating_step(tmp_path):
    trainer = _two_player(tmp_path)
    assert set(trainer.models) == {"generator", "critic"}
    assert set(trainer.optimizers) == {"generator", "critic"}
    before = _state(trainer)
    results = trainer.train(two_player_data(), 6, verbose=0)
    assert {"loss", "critic_loss", "generator_loss", "critic_real", "critic_fake"} <= set(results)
    after = _state(trainer)
    changed = [not np.array_equal(a, b) for a, b in zip(before, after, strict=True)]
    assert all(changed[: len(trainer.models["generator"].weights)])  # generator weights moved
    # each critic step counts in its optimizer's iterations: n_critic=2 per training step
    assert int(trainer.optimizers["critic"].iterations.numpy()) == 12
    assert int(trainer.optimizers["generator"].iterations.numpy()) == 6
    assert results["loss"] == pytest.approx(results["critic_loss"] + results["generator_loss"])


def test_two_replicas_equal_one_device(tmp_path, two_replicas):
    single = _two_player(tmp_path / "one")
    mirrored = _two_player(tmp_path / "two", strategy=two_replicas)
    one = single.train(two_player_data(), 6, verbose=0)
    two = mirrored.train(two_player_data(), 6, verbose=0)
    for a, b in zip(_state(single), _state(mirrored), strict=True):
        np.testing.assert_allclose(a, b, atol=FLOAT32_ATOL)
    assert one["loss"] == pytest.approx(two["loss"], abs=1e-5)


def test_a_non_finite_second_group_undoes_the_first_groups_update(tmp_path):
    trainer = _two_player(tmp_path / "skip", poison_generator_at=2)
    trainer.on_nan = "skip_step"
    trainer.train(two_player_data(), 2, verbose=0)
    before = _state(trainer)
    trainer.train(two_player_data(), 3, verbose=0)  # step index 2: the generator's loss is NaN
    assert int(trainer.skipped_steps.numpy()) == 1
    for a, b in zip(before, _state(trainer), strict=True):
        np.testing.assert_array_equal(a, b)  # critic (applied first) and generator, both undone

    raising = _two_player(tmp_path / "raise", poison_generator_at=0)
    with pytest.raises(NonFiniteError, match="step 1: loss of optimizer 'generator'"):
        raising.train(two_player_data(), 3, verbose=0)
    assert int(raising.optimizers["critic"].iterations.numpy()) == 0


def test_the_alternating_step_runs_under_fit_with_the_same_result(tmp_path):
    custom = _two_player(tmp_path / "custom")
    fitted = _two_player(tmp_path / "fit")
    custom.train(two_player_data(), 4, verbose=0)
    fitted.fit(two_player_data(), 4, verbose=0)
    assert int(fitted.step.numpy()) == 4
    for a, b in zip(_state(custom), _state(fitted), strict=True):
        np.testing.assert_allclose(a, b, atol=FLOAT32_ATOL)


def test_step_randomness_is_the_same_on_two_replicas_and_after_resume():
    def draw(replica, replicas, step):
        return StepRandomness(3, tf.constant(step, tf.int64), replica, replicas).normal(
            [2, 3], "noise"
        )

    whole = StepRandomness(3, tf.constant(5, tf.int64)).normal([4, 3], "noise")
    halves = tf.concat([draw(0, 2, 5), draw(1, 2, 5)], axis=0)
    np.testing.assert_array_equal(whole, halves)  # replica r gets rows a single device gives
    np.testing.assert_array_equal(draw(0, 2, 5), draw(0, 2, 5))  # stateless
    assert not np.array_equal(draw(0, 2, 5), draw(0, 2, 6))  # differs between steps
    seeds = StepRandomness(3, tf.constant(5, tf.int64))
    assert not np.array_equal(seeds.normal([2], "a"), seeds.normal([2], "b"))  # and names


def _positives_trainer(workdir, strategy=None):
    return Trainer(
        PositivesTask(TaskOptions()),
        build_optimizer=lambda: keras.optimizers.SGD(0.1),
        workdir=str(workdir),
        strategy=strategy,
        steps_per_loop=1,
    )


def _reference_update(features, boxes, kernel, bias, lr=0.1):
    """One SGD step on sum(|b - predict(x)|^2 over all boxes) / number of boxes, float64."""
    features, kernel, bias = (np.asarray(a, np.float64) for a in (features, kernel, bias))
    grad_k, grad_b, count, total = np.zeros_like(kernel), np.zeros_like(bias), 0, 0.0
    for x, targets in zip(features, boxes, strict=True):
        predicted = x @ kernel + bias
        for target in targets:
            residual = predicted - target
            total += float(residual @ residual)
            grad_k += 2 * np.outer(x, residual)
            grad_b += 2 * residual
            count += 1
    return kernel - lr * grad_k / count, bias - lr * grad_b / count, total / count


def test_positives_are_normalised_across_replicas_not_per_replica(tmp_path, two_replicas):
    # replica 0 gets examples 0-1 (1 box in all), replica 1 gets examples 2-3 (7 boxes):
    # averaging per replica would weight replica 0's single box 3.5x too much
    counts = [1, 0, 3, 4]
    features, boxes = positives_data(counts)
    single = _positives_trainer(tmp_path / "one")
    mirrored = _positives_trainer(tmp_path / "two", strategy=two_replicas)
    kernel, bias = (np.array(v) for v in single.model.weights)
    results = {}
    for name, trainer in (("one", single), ("two", mirrored)):
        results[name] = trainer.train(positives_dataset(features, boxes, 4), 1, verbose=0)
    want_kernel, want_bias, want_loss = _reference_update(features, boxes, kernel, bias)
    for trainer in (single, mirrored):
        got_kernel, got_bias = (np.array(v) for v in trainer.model.weights)
        np.testing.assert_allclose(got_kernel, want_kernel, atol=1e-5)
        np.testing.assert_allclose(got_bias, want_bias, atol=1e-5)
    assert results["one"]["loss"] == pytest.approx(want_loss, rel=1e-5)
    assert results["two"]["loss"] == pytest.approx(want_loss, rel=1e-5)
    # the test can tell: averaging each replica's own normalised gradient gives another update
    per_replica = [
        kernel - _reference_update(features[i : i + 2], boxes[i : i + 2], kernel, bias)[0]
        for i in (0, 2)
    ]
    per_replica_kernel = kernel - np.mean(per_replica, axis=0)
    assert np.max(np.abs(per_replica_kernel - want_kernel)) > 1e-3


def test_an_empty_example_gives_a_finite_loss(tmp_path):
    features, boxes = positives_data([0, 0, 0, 0])
    trainer = _positives_trainer(tmp_path)
    results = trainer.train(positives_dataset(features, boxes, 4), 1, verbose=0)
    assert results["loss"] == 0.0 and int(trainer.skipped_steps.numpy()) == 0


def test_two_optimizers_survive_sigkill_and_resume_bit_identically(tmp_path):
    """Killed (SIGKILL) on its way to the step-12 checkpoint, the re-run resumes from step 8
    and ends bit-identical to an uninterrupted run: both models, both optimizers' slots and
    iterations, and the step randomness (its noise is drawn from (seed, step))."""

    def run(workdir, *extra):
        return run_cli("-m", "tests.training.two_player_run", str(workdir), "16", *extra)

    whole = run(tmp_path / "whole", str(tmp_path / "whole.npz"))
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = run(tmp_path / "killed", str(tmp_path / "unused.npz"), "12")
    assert killed.returncode == -signal.SIGKILL
    assert tf.train.latest_checkpoint(str(tmp_path / "killed" / "checkpoints")).endswith("ckpt-8")
    resumed = run(tmp_path / "killed", str(tmp_path / "resumed.npz"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stdout and "ckpt-8" in resumed.stdout
    want, got = np.load(tmp_path / "whole.npz"), np.load(tmp_path / "resumed.npz")
    assert sorted(want.files) == sorted(got.files) and len(want.files) > 20
    for name in want.files:
        np.testing.assert_array_equal(want[name], got[name], err_msg=name)


class _GatheringTask(PositivesTask):
    """Brings every evaluation prediction back to Python, as COCO mAP or FID need."""

    def gather_outputs(self, batch, outputs):
        return {"predicted": outputs, "features": batch[0]}

    def evaluate_gathered(self, gathered):
        return {"gathered": float(len(gathered["predicted"])), "outputs": gathered}


def test_evaluation_gathers_outputs_from_every_replica_to_python(tmp_path, two_replicas):
    features, boxes = positives_data([1, 2, 0, 3, 1, 1, 2, 2])
    trainer = Trainer(
        _GatheringTask(TaskOptions()),
        build_optimizer=lambda: keras.optimizers.SGD(0.1),
        workdir=str(tmp_path),
        strategy=two_replicas,
    )
    ragged = tf.RaggedTensor.from_row_lengths(
        np.concatenate(boxes).reshape(-1, 4), [len(b) for b in boxes]
    )
    dataset = tf.data.Dataset.from_tensor_slices((features, ragged)).batch(4)
    results = trainer.evaluate(dataset)
    assert results["gathered"] == 8.0
    gathered = results["outputs"]
    order = np.argsort(gathered["features"][:, 0])  # replicas may interleave; match by features
    want = np.asarray(trainer.model(features, training=False))
    np.testing.assert_allclose(
        gathered["predicted"][order], want[np.argsort(features[:, 0])], atol=1e-6
    )
    assert results["loss"] > 0  # the graph metrics are still reported beside them
