import keras
import numpy as np
import pytest

from yeehaw_tf.losses import MulticlassHinge, SoftmaxCrossEntropy


def _data(n=6, k=5, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, k, n), (rng.normal(size=(n, k)) * scale).astype(np.float32)


def _hinge_loop(labels, scores, margin):
    """Float64 reference, written from the notes: sum_{j != y} max(0, s_j - s_y + margin)."""
    total = 0.0
    for y, s in zip(labels, scores.astype(np.float64), strict=True):
        total += sum(max(0.0, s[j] - s[y] + margin) for j in range(len(s)) if j != y)
    return total / len(labels)


@pytest.mark.parametrize("margin", [1.0, 0.5, 3.0])
def test_multiclass_hinge_matches_the_formula(margin):
    labels, scores = _data()
    ours = float(MulticlassHinge(margin)(labels, scores))
    assert ours == pytest.approx(_hinge_loop(labels, scores, margin), rel=1e-6)
    one_hot = np.eye(5)[labels]
    assert float(MulticlassHinge(margin)(one_hot, scores)) == pytest.approx(ours, rel=1e-6)


def test_multiclass_hinge_differs_from_keras_categorical_hinge():
    labels = np.array([0])
    scores = np.array([[1.0, 0.8, 0.9]], np.float32)  # two wrong classes inside the margin
    ours = float(MulticlassHinge()(labels, scores))
    keras_value = float(keras.losses.CategoricalHinge()(np.eye(3)[labels], scores))
    assert ours == pytest.approx(0.8 + 0.9)  # both wrong classes are counted
    assert keras_value == pytest.approx(0.9)  # Keras counts only the highest wrong score


def test_multiclass_hinge_is_zero_once_the_margin_is_met():
    assert float(MulticlassHinge()(np.array([1]), np.array([[0.0, 2.0, 0.5]]))) == 0.0


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_softmax_cross_entropy_matches_keras_dense_and_sparse(smoothing):
    labels, logits = _data()
    ours = SoftmaxCrossEntropy(label_smoothing=smoothing)
    dense = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    one_hot = np.eye(5, dtype=np.float32)[labels]
    assert float(ours(labels, logits)) == pytest.approx(float(dense(one_hot, logits)), rel=1e-6)
    assert float(ours(one_hot, logits)) == pytest.approx(float(dense(one_hot, logits)), rel=1e-6)
    if smoothing == 0.0:
        sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        assert float(ours(labels, logits)) == pytest.approx(float(sparse(labels, logits)), rel=1e-6)


def test_softmax_cross_entropy_matches_the_formula_in_float64():
    labels, logits = _data(seed=3)
    x = logits.astype(np.float64)
    expected = np.mean(
        [-np.log(np.exp(s[y]) / np.exp(s).sum()) for y, s in zip(labels, x, strict=True)]
    )
    assert float(SoftmaxCrossEntropy()(labels, logits)) == pytest.approx(expected, rel=1e-6)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4 - 5.0, 1e4]], np.float32)
    labels = np.array([0, 1])
    per_example = SoftmaxCrossEntropy(reduction=None)(labels, logits).numpy()
    np.testing.assert_allclose(
        per_example, [0.0, 5.0 + np.log1p(np.exp(-5.0))], rtol=1e-5, atol=1e-6
    )


def test_softmax_cross_entropy_on_probabilities_matches_keras():
    labels, logits = _data()
    probs = keras.ops.softmax(logits).numpy()
    ours = SoftmaxCrossEntropy(from_logits=False)(labels, probs)
    theirs = keras.losses.SparseCategoricalCrossentropy()(labels, probs)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5)


@pytest.mark.parametrize("loss", [MulticlassHinge(2.0), SoftmaxCrossEntropy(label_smoothing=0.2)])
def test_losses_serialize_and_work_in_fit(loss, tmp_path):
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    labels, logits = _data()
    assert float(clone(labels, logits)) == pytest.approx(float(loss(labels, logits)))
    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Dense(5)(inputs))
    model.compile("sgd", loss=loss)
    model.fit(logits, labels, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.loss) is type(loss)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: MulticlassHinge(0.0), "margin"),
        (lambda: SoftmaxCrossEntropy(label_smoothing=1.0), "label_smoothing"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()
