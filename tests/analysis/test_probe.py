"""The probes against scikit-learn's kNN classifier and on data with a known answer."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from yeehaw_tf.analysis.probe import knn_accuracy, knn_leave_one_out, knn_predict, linear_probe


@pytest.mark.parametrize("k", [1, 5, 20])
def test_knn_matches_scikit_learn_cosine_majority_vote(k):
    rng = np.random.default_rng(k)
    train_x, test_x = rng.normal(size=(120, 6)), rng.normal(size=(40, 6))
    train_y = rng.integers(0, 4, size=120)
    reference = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
    expected = reference.fit(train_x, train_y).predict(test_x)
    np.testing.assert_array_equal(knn_predict(train_x, train_y, test_x, k), expected)


def test_knn_is_scale_invariant_per_row():
    rng = np.random.default_rng(0)
    train_x, test_x = rng.normal(size=(50, 3)), rng.normal(size=(10, 3))
    train_y = rng.integers(0, 3, size=50)
    scaled = train_x * rng.uniform(0.1, 10, size=(50, 1))
    np.testing.assert_array_equal(
        knn_predict(train_x, train_y, test_x, 7), knn_predict(scaled, train_y, test_x, 7)
    )


def test_linear_probe_separates_separable_classes_and_not_random_labels():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 5
    labels = rng.integers(0, 3, size=300)
    x = centres[labels] + rng.normal(size=(300, 8))
    assert linear_probe(x[:200], labels[:200], x[200:], labels[200:]) == 1.0
    noise = rng.normal(size=(300, 8))
    assert linear_probe(noise[:200], labels[:200], noise[200:], labels[200:]) < 0.6


def test_bad_probe_inputs_name_the_problem():
    x, y = np.zeros((4, 2)), np.zeros(4)
    with pytest.raises(ValueError, match="k must be"):
        knn_predict(x, y, x, 0)
    with pytest.raises(ValueError, match="exceeds"):
        knn_predict(x, y, x, 5)
    with pytest.raises(ValueError, match="same D"):
        knn_accuracy(x, y, np.zeros((4, 3)), y)
    with pytest.raises(ValueError, match="rows"):
        linear_probe(x, np.zeros(3), x, y)


def test_leave_one_out_knn_matches_scikit_learn_fitted_without_each_row():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 5)), rng.integers(0, 3, size=40)
    correct = 0
    for i in range(40):
        others = np.arange(40) != i
        reference = KNeighborsClassifier(n_neighbors=7, metric="cosine", algorithm="brute")
        correct += int(reference.fit(x[others], y[others]).predict(x[i : i + 1])[0] == y[i])
    assert knn_leave_one_out(x, y, 7) == pytest.approx(correct / 40)
    with pytest.raises(ValueError, match="at least 2"):
        knn_leave_one_out(x[:1], y[:1], 7)
