import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.losses import TripletLoss


def _distances(e, squared):
    d2 = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    return d2 if squared else np.sqrt(d2)


def _batch_all_loop(labels, embeddings, margin, squared):
    """Brute force over every (anchor, positive, negative) triplet, float64."""
    d = _distances(embeddings.astype(np.float64), squared)
    losses = []
    for a, p, n in itertools.product(range(len(labels)), repeat=3):
        if a != p and labels[a] == labels[p] and labels[a] != labels[n]:
            losses.append(max(0.0, d[a, p] - d[a, n] + margin))
    positive = [v for v in losses if v > 1e-16]
    return sum(losses) / max(len(positive), 1)


def _batch_hard_loop(labels, embeddings, margin, squared):
    d = _distances(embeddings.astype(np.float64), squared)
    values = []
    for a in range(len(labels)):
        pos = [d[a, p] for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        neg = [d[a, n] for n in range(len(labels)) if labels[n] != labels[a]]
        if pos and neg:
            values.append(max(0.0, max(pos) - min(neg) + margin))
    return float(np.mean(values)) if values else 0.0


def _data(seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, 9), rng.normal(size=(9, 4)).astype(np.float32)


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard"])
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_brute_force_loop(mining, squared, seed):
    labels, embeddings = _data(seed)
    reference = _batch_all_loop if mining == "batch_all" else _batch_hard_loop
    ours = float(TripletLoss(0.5, mining=mining, squared=squared)(labels, embeddings))
    assert ours == pytest.approx(reference(labels, embeddings, 0.5, squared), rel=1e-5, abs=1e-6)


def test_gradients_are_finite_even_with_duplicate_embeddings():
    labels = np.array([0, 0, 1, 1])
    embeddings = tf.constant([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    with tf.GradientTape() as tape:
        tape.watch(embeddings)
        loss = TripletLoss(1.0)(labels, embeddings)
    assert np.all(np.isfinite(tape.gradient(loss, embeddings)))


def test_training_with_it_separates_the_classes():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 16)
    x = (rng.normal(size=(48, 6)) + np.eye(3, 6)[labels] * 1.5).astype(np.float32)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.05), loss=TripletLoss(1.0, mining="batch_hard"))
    before = float(TripletLoss(1.0, mining="batch_hard")(labels, model(x)))
    model.fit(x, labels, batch_size=48, epochs=60, verbose=0, shuffle=False)
    after = float(TripletLoss(1.0, mining="batch_hard")(labels, model(x)))
    assert after < 0.5 * before


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="mining"):
        TripletLoss(mining="semi_hard_ish")
    with pytest.raises(ValueError, match="margin"):
        TripletLoss(margin=0.0)
