"""The behaviours the notes describe, on the classic 2-D problems."""

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf import optimizers as ours
from yeehaw_tf.analysis.optimizer_paths import PROBLEMS, optimize
from yeehaw_tf.training import Trainer


def _steps_to(losses, tolerance):
    below = np.flatnonzero(losses < tolerance)
    return int(below[0]) if below.size else None


def test_momentum_reaches_the_loss_in_fewer_steps_than_sgd_on_an_ill_conditioned_quadratic():
    fn, start, _ = PROBLEMS["quadratic"]
    _, sgd = optimize(ours.SGD(0.03), fn, start, 400)
    _, momentum = optimize(ours.SGD(0.03, momentum=0.9), fn, start, 400)
    assert _steps_to(momentum, 1e-3) < 0.6 * _steps_to(sgd, 1e-3)


def _effective_steps(optimizer, slots, steps=3000):
    """lr / sqrt(s + eps) averaged over the coordinates, after every step, on Rosenbrock."""
    fn, start, _ = PROBLEMS["rosenbrock"]
    record = []

    def on_step(opt):
        s = slots(opt)[0].numpy()
        record.append(float(np.mean(float(opt.learning_rate) / np.sqrt(s + opt.epsilon))))

    path, losses = optimize(optimizer, fn, start, steps, on_step)
    return np.array(record), path, losses


def test_adagrad_step_size_only_shrinks_and_stalls_where_rmsprop_keeps_moving():
    adagrad, _, a_loss = _effective_steps(ours.AdaGrad(0.5), lambda o: o.accumulators)
    rmsprop, _, r_loss = _effective_steps(ours.RMSProp(0.01), lambda o: o.second_moments)
    assert np.all(np.diff(adagrad) <= 0)  # the history is never forgotten: it only shrinks
    assert adagrad[-1] < 0.25 * adagrad[0]
    # RMSProp forgets: once the gradients get small its effective step grows back
    assert rmsprop[-1] > 2 * rmsprop[0]
    # ... so it gets down the valley much sooner, where AdaGrad crawls
    assert a_loss[1000] > 10 * r_loss[1000]
    assert r_loss[-1] < a_loss[-1]


def test_adam_reaches_the_tolerance_on_rosenbrock_within_a_bounded_number_of_steps():
    fn, start, minimum = PROBLEMS["rosenbrock"]
    path, losses = optimize(ours.Adam(0.02), fn, start, 2500)
    assert _steps_to(losses, 1e-4) is not None and _steps_to(losses, 1e-4) <= 2500
    np.testing.assert_allclose(path[-1], minimum, atol=1e-2)


def _model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def _data():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype(np.float32), rng.integers(0, 3, 32)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8, drop_remainder=True).repeat()


def _trainer(workdir, make_optimizer, strategy=None):
    return Trainer(
        build_model=_model,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        build_metrics=list,
        build_optimizer=make_optimizer,
        workdir=str(workdir),
        strategy=strategy,
        checkpoint_every=3,
        steps_per_loop=3,
    )


OPTIMIZERS = {
    "momentum": lambda: ours.SGD(0.05, momentum=0.9, nesterov=True),
    "adagrad": lambda: ours.AdaGrad(0.1),
    "rmsprop": lambda: ours.RMSProp(0.01, momentum=0.5, centered=True),
    "adamw": lambda: ours.AdamW(0.01, amsgrad=True),
}


def test_slot_variables_are_checkpointed_and_resume_exactly(tmp_path):
    for name, make in OPTIMIZERS.items():
        whole = _trainer(tmp_path / name / "whole", make)
        whole.train(_data(), 9, verbose=0)
        first = _trainer(tmp_path / name / "split", make)
        first.train(_data(), 6, verbose=0)
        resumed = _trainer(tmp_path / name / "split", make)
        assert resumed.restore() == 6
        for a, b in zip(first.optimizer.variables, resumed.optimizer.variables, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())  # slots restored exactly
        resumed.train(_data(), 9, verbose=0)
        for a, b in zip(whole.optimizer.variables, resumed.optimizer.variables, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_optimizers_under_mirrored_strategy_equal_one_device(tmp_path, two_replicas):
    for name, make in OPTIMIZERS.items():
        one = _trainer(tmp_path / name / "one", make)
        two = _trainer(tmp_path / name / "two", make, strategy=two_replicas)
        one.train(_data(), 6, verbose=0)
        two.train(_data(), 6, verbose=0)
        for a, b in zip(one.model.weights, two.model.weights, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
