import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.regularizers import L1, L2, ElasticNet, weight_penalty
from yeehaw_tf.training import Trainer

W = np.array([[0.5, -2.0], [0.0, 3.0]], np.float32)


@pytest.mark.parametrize(
    "ours, theirs, formula",
    [
        (L1(0.1), keras.regularizers.L1(0.1), 0.1 * 5.5),
        (L2(0.1), keras.regularizers.L2(0.1), 0.1 * 13.25),
        (ElasticNet(0.1, 0.2), keras.regularizers.L1L2(0.1, 0.2), 0.1 * 5.5 + 0.2 * 13.25),
    ],
)
def test_penalties_match_keras_and_the_formula(ours, theirs, formula):
    assert float(ours(W)) == pytest.approx(float(theirs(W)), rel=1e-6)
    assert float(ours(W)) == pytest.approx(formula, rel=1e-6)
    clone = keras.regularizers.deserialize(keras.regularizers.serialize(ours))
    assert float(clone(W)) == pytest.approx(formula, rel=1e-6)


def test_weight_penalty_picks_the_regularizer_and_refuses_negative_strengths():
    assert weight_penalty() is None
    assert isinstance(weight_penalty(l1=0.1), L1)
    assert isinstance(weight_penalty(l2=0.1), L2)
    assert isinstance(weight_penalty(0.1, 0.1), ElasticNet)
    with pytest.raises(ValueError, match="l2"):
        L2(-1.0)


def _model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="relu", kernel_regularizer=ElasticNet(0.01, 0.02))(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, kernel_regularizer=L2(0.05))(x))


def test_trainer_adds_the_penalty_exactly_as_fit(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.integers(0, 3, 16)
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def trainer(name):
        return Trainer(
            build_model=_model,
            loss=loss,
            build_metrics=list,
            build_optimizer=lambda: keras.optimizers.SGD(0.1),
            workdir=str(tmp_path / name),
        )

    custom, fitted = trainer("custom"), trainer("fit")
    reported_custom = custom.train(data, 1, verbose=0)["loss"]
    reported_fit = fitted.fit(data, 1, verbose=0)["loss"]
    model = _model()
    expected = float(loss(y, model(x))) + sum(float(v) for v in model.losses)
    assert sum(float(v) for v in model.losses) > 0.01
    assert reported_custom == pytest.approx(expected, rel=1e-5)
    assert reported_fit == pytest.approx(expected, rel=1e-5)
    for a, b in zip(custom.model.weights, fitted.model.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
