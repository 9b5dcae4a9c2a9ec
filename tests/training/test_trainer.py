import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import STEP_ATOL, run_cli
from yeehaw_tf.models.classification.small_resnet import small_resnet
from yeehaw_tf.training import Trainer
from yeehaw_tf.training import fit as fit_bridge
from yeehaw_tf.training.trainer import NonFiniteError


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = rng.normal(size=(n, 8, 8, 1)).astype(np.float32) + labels[:, None, None, None]
    return images, labels


def _trainer(workdir, strategy=None, optimizer=None, **kwargs):
    def build():
        keras.utils.set_random_seed(1)  # the same initial weights every time
        return small_resnet(3, (8, 8, 1), widths=(8, 16))

    return Trainer(
        build_model=build,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        build_metrics=lambda: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        build_optimizer=optimizer or (lambda: keras.optimizers.SGD(0.05, momentum=0.9)),
        workdir=str(workdir),
        strategy=strategy,
        **kwargs,
    )


def _batches(batch_size=16, n=64):
    images, labels = _data(n)
    return (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .batch(batch_size, drop_remainder=True)
        .repeat()
    )


def _weights(model):
    return [np.array(w) for w in model.weights]


def test_loss_falls_on_tiny_data(tmp_path):
    trainer = _trainer(tmp_path, steps_per_loop=5, checkpoint_every=40)
    first = trainer.train(_batches(), 5, verbose=0)["loss"]
    last = trainer.train(_batches(), 40, verbose=0)  # continues after the 5 batches seen
    assert last["loss"] < 0.5 * first
    assert last["accuracy"] > 0.9


def test_custom_loop_step_equals_fit_step(tmp_path):
    custom = _trainer(tmp_path / "custom")
    fitted = _trainer(tmp_path / "fit")
    for a, b in zip(_weights(custom.model), _weights(fitted.model), strict=True):
        np.testing.assert_array_equal(a, b)
    custom.train(_batches(), 1, verbose=0)
    fitted.fit(_batches(), 1, verbose=0)
    before = _weights(_trainer(tmp_path / "fresh").model)
    for a, b in zip(_weights(custom.model), _weights(fitted.model), strict=True):
        np.testing.assert_allclose(a, b, atol=STEP_ATOL)
    assert any(not np.allclose(a, w0) for a, w0 in zip(_weights(custom.model), before, strict=True))
    assert int(custom.step.numpy()) == int(fitted.step.numpy()) == 1


def test_two_replicas_equal_one_device_on_the_same_global_batch(tmp_path, two_replicas):
    single = _trainer(tmp_path / "one", steps_per_loop=2)
    mirrored = _trainer(
        tmp_path / "two",
        strategy=two_replicas,
        steps_per_loop=2,
    )
    assert mirrored.strategy.num_replicas_in_sync == 2
    single.train(_batches(), 4, verbose=0)
    mirrored.train(_batches(), 4, verbose=0)
    for a, b in zip(_weights(single.model), _weights(mirrored.model), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # evaluation aggregates across replicas, including a last batch smaller than the replicas
    images, labels = _data(37, seed=5)
    test = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    one, two = single.evaluate(test), mirrored.evaluate(test)
    assert one["accuracy"] == pytest.approx(two["accuracy"], abs=1e-6)
    assert one["loss"] == pytest.approx(two["loss"], rel=1e-4)
    logits = single.model(images, training=False)
    assert one["accuracy"] == pytest.approx(float(np.mean(np.argmax(logits, -1) == labels)))


def test_fit_under_two_replicas_equals_fit_on_one_device(tmp_path, two_replicas):
    single = _trainer(tmp_path / "one")
    mirrored = _trainer(tmp_path / "two", strategy=two_replicas)
    single.fit(_batches(), 3, verbose=0)
    mirrored.fit(_batches(), 3, verbose=0)
    assert int(mirrored.step.numpy()) == 3
    for a, b in zip(_weights(single.model), _weights(mirrored.model), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_training_input_is_checked_up_front(tmp_path, two_replicas):
    mirrored = _trainer(tmp_path / "m", strategy=two_replicas)
    with pytest.raises(ValueError, match="divisible by the number of replicas"):
        mirrored.train(_batches(batch_size=15), 2, verbose=0)
    images, labels = _data(32)
    finite = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16, drop_remainder=True)
    with pytest.raises(ValueError, match="must repeat"):
        _trainer(tmp_path / "f").train(finite, 5, verbose=0)
    with pytest.raises(ValueError, match="total_steps"):
        _trainer(tmp_path / "g").train(_batches(), 0, verbose=0)


def test_jit_compile_is_refused_with_several_replicas(tmp_path, two_replicas):
    strategy = two_replicas
    with pytest.raises(ValueError, match="jit_compile"):
        _trainer(tmp_path, strategy=strategy, jit_compile=True)
    assert not _trainer(tmp_path / "auto", strategy=strategy).jit_compile


def test_jit_compiled_step_equals_the_plain_step(tmp_path):
    plain = _trainer(tmp_path / "plain", jit_compile=False)
    compiled = _trainer(tmp_path / "xla", jit_compile=True)
    plain.train(_batches(), 2, verbose=0)
    compiled.train(_batches(), 2, verbose=0)
    for a, b in zip(_weights(plain.model), _weights(compiled.model), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_checkpoints_resume_the_step_count(tmp_path):
    trainer = _trainer(tmp_path, checkpoint_every=3, steps_per_loop=2, steps_per_epoch=2)
    trainer.train(_batches(), 7, verbose=0)
    saved = sorted(int(p.rsplit("-", 1)[1]) for p in trainer.manager.checkpoints)
    assert saved == [3, 6, 7]
    resumed = _trainer(tmp_path, checkpoint_every=3)
    assert resumed.restore() == 7
    assert int(resumed.epoch.numpy()) == 3  # steps_per_epoch=2 below: the counter is restored
    for a, b in zip(_weights(trainer.model), _weights(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    resumed.train(_batches(), 9, verbose=0)
    assert int(resumed.step.numpy()) == 9


def test_unreadable_newest_checkpoint_falls_back_to_the_previous(tmp_path, caplog):
    trainer = _trainer(tmp_path, checkpoint_every=2)
    trainer.train(_batches(), 4, verbose=0)
    for path in glob.glob(str(tmp_path / "checkpoints" / "ckpt-4.data-*")):
        with open(path, "r+b") as f:
            f.truncate(16)
    (tmp_path / "checkpoints" / "ckpt-6_temp").mkdir()  # an interrupted save's staging folder
    resumed = _trainer(tmp_path, checkpoint_every=2)
    assert resumed.restore() == 2
    assert "unreadable" in caplog.text
    # the unreadable checkpoint is kept aside, the state file lists only readable ones, and the
    # run goes on (the preemption handler restores the same, readable, newest checkpoint)
    aside = sorted(os.listdir(tmp_path / "checkpoints" / "unreadable"))
    assert aside and all(name.startswith("ckpt-4.") for name in aside)
    assert resumed.manager.checkpoints == [str(tmp_path / "checkpoints" / "ckpt-2")]
    assert not (tmp_path / "checkpoints" / "ckpt-6_temp").exists()
    resumed.train(_batches(), 6, verbose=0)
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-6")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"checkpoint_every": 0}, "checkpoint_every"),
        ({"steps_per_loop": -1}, "steps_per_loop"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _trainer(tmp_path, **kwargs)


def test_loss_must_be_a_keras_loss(tmp_path):
    with pytest.raises(ValueError, match="loss"):
        Trainer(
            build_model=lambda: small_resnet(3, (8, 8, 1)),
            loss=lambda y, p: p,
            build_metrics=list,
            build_optimizer=keras.optimizers.SGD,
            workdir=str(tmp_path),
        )


_RESUME_SCRIPT = """
import os, sys, keras, numpy as np, tensorflow as tf
sys.path.insert(0, os.getcwd())
from tests.training.test_trainer import _trainer, _batches, _weights
keras.utils.set_random_seed(0)
tf.config.experimental.enable_op_determinism()
root = sys.argv[1]
adam = lambda: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-2, 12))
whole = _trainer(os.path.join(root, "whole"), optimizer=adam, checkpoint_every=4, steps_per_loop=3)
whole.train(_batches(), 12, verbose=0)
first = _trainer(os.path.join(root, "split"), optimizer=adam, checkpoint_every=4, steps_per_loop=3)
first.train(_batches(), 8, verbose=0)
second = _trainer(os.path.join(root, "split"), optimizer=adam, checkpoint_every=4, steps_per_loop=3)
second.train(_batches(), 12, verbose=0)
assert int(second.step.numpy()) == 12
for a, b in zip(_weights(whole.model), _weights(second.model)):
    assert np.array_equal(a, b), np.abs(a - b).max()
for a, b in zip(whole.optimizer.variables, second.optimizer.variables):
    assert np.array_equal(np.array(a), np.array(b))
print("BIT-IDENTICAL")
"""


def test_deterministic_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    result = run_cli("-c", _RESUME_SCRIPT, str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "BIT-IDENTICAL" in result.stdout


def _with_nan_batch(bad_batch: int, batch_size=16):
    """The usual batches, with NaN pixels in the first image of batch ``bad_batch`` (0-based)."""
    images, labels = _data()
    images = images.copy()
    images[bad_batch * batch_size] = np.nan
    return (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .batch(batch_size, drop_remainder=True)
        .repeat()
    )


def test_a_nan_batch_stops_training_naming_the_step_and_keeps_the_checkpoint(tmp_path):
    trainer = _trainer(tmp_path, checkpoint_every=2, steps_per_loop=2)
    # NaN pixels give a non-finite loss or (max pooling can drop NaNs) a non-finite gradient
    with pytest.raises(NonFiniteError, match=r"step 4: \S+ is NaN or infinite .*ckpt-2"):
        trainer.train(_with_nan_batch(3), 8, verbose=0)
    assert int(trainer.step.numpy()) == 3  # steps 1..3 ran; step 4 was refused
    assert all(np.all(np.isfinite(w)) for w in _weights(trainer.model))
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-2")


def test_a_non_finite_gradient_names_its_variable(tmp_path):
    @keras.saving.register_keras_serializable(package="tests")
    class SqrtOfWeight(keras.layers.Layer):  # d sqrt(w) / dw is infinite at w = 0
        def build(self, input_shape):
            self.w = self.add_weight(shape=(), initializer="zeros", name="root")

        def call(self, x):
            return x * keras.ops.sqrt(self.w)

    def build():
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Flatten()(SqrtOfWeight(name="sqrt_layer")(inputs))
        return keras.Model(inputs, keras.layers.Dense(3)(x))

    trainer = Trainer(
        build_model=build,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        build_metrics=lambda: [],
        build_optimizer=lambda: keras.optimizers.SGD(0.1),
        workdir=str(tmp_path),
    )
    with pytest.raises(NonFiniteError, match=r"step 1: sqrt_layer/root is NaN"):
        trainer.train(_batches(), 2, verbose=0)


@pytest.mark.parametrize("replicas", [1, 2])
def test_skip_step_leaves_the_weights_and_counts_the_skip(tmp_path, two_replicas, replicas):
    strategy = two_replicas if replicas == 2 else None
    trainer = _trainer(tmp_path, strategy, on_nan="skip_step", steps_per_loop=1)
    dataset = _with_nan_batch(2)
    trainer.train(dataset, 2, verbose=0)
    before = _weights(trainer.model)
    optimizer_before = [np.array(v) for v in trainer.optimizer.variables]
    results = trainer.train(dataset, 3, verbose=0)  # step 3 sees the NaN batch
    assert results["skipped_steps"] == 1 and int(trainer.step.numpy()) == 3
    for a, b in zip(before, _weights(trainer.model), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(optimizer_before, trainer.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a, np.array(b))  # iterations and momenta too
    results = trainer.train(dataset, 6, verbose=0)
    assert results["skipped_steps"] == 1 and np.isfinite(results["loss"])
    assert all(np.all(np.isfinite(w)) for w in _weights(trainer.model))
    assert not all(
        np.array_equal(a, b) for a, b in zip(before, _weights(trainer.model), strict=True)
    )


def test_fit_stops_on_non_finite_values_before_saving(tmp_path):
    trainer = _trainer(tmp_path, checkpoint_every=2)
    # fit runs the Trainer's own step: the NaN step is refused (not applied), as in the custom
    # loop, and the run stops naming it; the last checkpoint stays
    with pytest.raises(NonFiniteError, match=r"step 4: \S+ is NaN or infinite .*ckpt-2"):
        trainer.fit(_with_nan_batch(3), 8, verbose=0)
    assert int(trainer.step.numpy()) == 3  # steps 1..3 ran; step 4 was refused
    assert all(np.all(np.isfinite(w)) for w in _weights(trainer.model))
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-2")
    # the callback stops after a refused step, naming the guard's first non-finite tensor
    trainer = _trainer(tmp_path / "a")
    callback = fit_bridge.NonFiniteStop(trainer)
    callback.on_train_batch_end(0, {"loss": 0.5})
    trainer.first_bad.assign(0)  # the guard's code for the loss
    with pytest.raises(NonFiniteError, match=r"step 1: loss is NaN or infinite"):
        callback.on_train_batch_end(0, {"loss": float("nan")})
    # weights that became non-finite (float16 loss scaling leaves gradients to the scaler) are
    # not saved
    trainer = _trainer(tmp_path / "w", checkpoint_every=2)
    trainer.model.weights[0].assign(np.full(trainer.model.weights[0].shape, np.nan))
    with pytest.raises(NonFiniteError, match=r"step 0: weights \S+ .*not saved.*no checkpoint"):
        fit_bridge.StepCheckpoint(trainer).on_train_batch_end(0, {})
    assert trainer.checkpoints.latest is None
    with pytest.raises(ValueError, match="on_nan must be one of raise, skip_step"):
        _trainer(tmp_path / "c", on_nan="ignore")


def test_fit_skips_a_nan_step_like_the_custom_loop(tmp_path):
    """on_nan=skip_step under fit: the refused step is counted and skipped, and training goes
    on to the same weights as the custom loop's."""
    custom = _trainer(tmp_path / "custom", on_nan="skip_step", steps_per_loop=1)
    fitted = _trainer(tmp_path / "fit", on_nan="skip_step")
    results = {
        "custom": custom.train(_with_nan_batch(2), 5, verbose=0),
        "fit": fitted.fit(_with_nan_batch(2), 5, verbose=0),
    }
    for trainer, name in ((custom, "custom"), (fitted, "fit")):
        assert int(trainer.step.numpy()) == 5 and int(trainer.skipped_steps.numpy()) == 1
        assert results[name]["skipped_steps"] == 1
    for a, b in zip(_weights(custom.model), _weights(fitted.model), strict=True):
        assert np.all(np.isfinite(b))
        np.testing.assert_allclose(a, b, atol=STEP_ATOL)
