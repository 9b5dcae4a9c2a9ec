import numpy as np
import pytest

from yeehaw_tf import optimizers as ours
from yeehaw_tf.optimizers import make_optimizer, make_schedule


@pytest.mark.parametrize(
    "name, cls, momentum, nesterov",
    [
        ("sgd", ours.SGD, 0.0, False),
        ("momentum", ours.SGD, 0.9, False),
        ("nesterov", ours.SGD, 0.9, True),
        ("rmsprop", ours.RMSProp, 0.0, None),
        ("adagrad", ours.AdaGrad, None, None),
        ("adam", ours.Adam, None, None),
    ],
)
def test_optimizers_by_name(name, cls, momentum, nesterov):
    optimizer = make_optimizer(name, 0.1)
    assert type(optimizer) is cls
    if momentum is not None:
        assert optimizer.momentum == momentum
    if nesterov is not None:
        assert optimizer.nesterov == nesterov


def test_adamw_and_decay_exclusions():
    optimizer = make_optimizer("adamw", 0.1, weight_decay=0.05, clipnorm=1.0)
    assert type(optimizer) is ours.AdamW and optimizer.weight_decay == 0.05
    assert optimizer.clipnorm == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "lamb"}, "valid names"),
        ({"name": "adam", "momentum": 0.9}, "momentum does not apply"),
        ({"name": "adagrad", "momentum": 0.5}, "momentum does not apply"),
        ({"name": "nesterov", "momentum": 0.0}, "nesterov needs momentum"),
        ({"name": "adamw"}, "weight_decay"),
        ({"name": "sgd", "clipnorm": 1.0, "global_clipnorm": 1.0}, "not both"),
        ({"name": "sgd", "clipnorm": -1.0}, "clipnorm"),
    ],
)
def test_invalid_optimizer_combinations_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer(learning_rate=0.1, **kwargs)


def test_schedules_by_name_follow_their_formulas():
    lr, total = 0.4, 100
    assert make_schedule("constant", lr, total) == lr
    step = make_schedule("step", lr, total, boundaries=(30, 60), decay_factor=0.5)
    np.testing.assert_allclose([float(step(t)) for t in (0, 30, 31, 61)], [0.4, 0.4, 0.2, 0.1])
    exponential = make_schedule("exponential", lr, total, decay_rate=0.5)  # decay_steps = 10
    assert float(exponential(20)) == pytest.approx(0.1)
    linear = make_schedule("linear", lr, total, end_learning_rate=0.04)
    assert float(linear(50)) == pytest.approx(0.22) and float(linear(100)) == pytest.approx(0.04)
    warm = make_schedule("cosine", lr, total, warmup_steps=20)
    assert float(warm(10)) == pytest.approx(0.2)  # halfway up the warm-up
    assert float(warm(20)) == pytest.approx(0.4) and float(warm(100)) == pytest.approx(
        0.0, abs=1e-7
    )
    inverse_sqrt = make_schedule("inverse_sqrt", lr, total, warmup_steps=25)
    assert float(inverse_sqrt(24)) == pytest.approx(0.4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "sawtooth"}, "valid names"),
        ({"name": "step"}, "needs lr_boundaries"),
        ({"name": "step", "boundaries": (50, 20)}, "strictly increasing"),
        ({"name": "cosine", "boundaries": (50,)}, "apply to lr_schedule=step"),
        ({"name": "inverse_sqrt"}, "warmup_steps > 0"),
        ({"name": "cosine", "warmup_steps": 100}, "warmup_steps"),
        ({"name": "linear", "end_learning_rate": 1.0}, "end_learning_rate"),
        ({"name": "step", "boundaries": (5,), "decay_factor": 2.0}, "lr_decay_factor"),
    ],
)
def test_invalid_schedule_combinations_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_schedule(learning_rate=0.1, total_steps=100, **kwargs)
