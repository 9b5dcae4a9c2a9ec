"""How good are frozen features? The linear probe and the kNN probe of self-supervised learning.

Both read the embeddings of a frozen encoder on the labelled training split and are scored on
the test split:

* **linear probe**: multinomial logistic regression (scikit-learn's L-BFGS, run to convergence)
  on standardised embeddings -- what a linear classifier can read off the features;
* **kNN probe** (Wu et al. 2018): each test embedding takes the majority label of its ``k``
  nearest training embeddings by cosine similarity (ties go to the smallest label, as
  scikit-learn's ``KNeighborsClassifier`` breaks them) -- no training at all.

``python -m yeehaw_tf.analysis.probe --workdir W`` re-runs both on any pre-trained workdir
(:mod:`yeehaw_tf.cli.probe`; the task's side is
:mod:`yeehaw_tf.training.tasks.self_supervised.probing`).
"""

from __future__ import annotations

import keras
import numpy as np

PROBE_BATCH = 256
DEFAULT_K = 20
MAX_ITERATIONS = 5000


def embed(model: keras.Model, images: np.ndarray, batch_size: int = PROBE_BATCH) -> np.ndarray:
    """``float64 [N, D]`` embeddings of uint8 ``images`` by ``model``: its ``embeddings`` output
    (or its only output, flattened); a model with a second ``noise`` input (the MAE's serving
    model) gets zeros there (the embeddings do not read it)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}")
    names = [t.name.split(":")[0] for t in model.inputs]
    rows = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size].astype(np.float32)
        if len(model.inputs) > 1:
            inputs = {"images": chunk}
            for name, tensor in zip(names, model.inputs, strict=True):
                if name != "images":
                    inputs[name] = np.zeros((len(chunk), *tensor.shape[1:]), np.float32)
        else:
            inputs = chunk
        out = model(inputs, training=False)
        out = out["embeddings"] if isinstance(out, dict) else out
        rows.append(np.asarray(out, np.float64).reshape(len(chunk), -1))
    return np.concatenate(rows) if rows else np.zeros((0, 0))


def _check(train_x, train_y, test_x, test_y):
    train_x, test_x = np.asarray(train_x, np.float64), np.asarray(test_x, np.float64)
    train_y, test_y = np.asarray(train_y).astype(np.int64), np.asarray(test_y).astype(np.int64)
    if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(
            f"features must be [N, D] with the same D, got {train_x.shape} and {test_x.shape}"
        )
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError(
            f"labels must match the features' rows: {len(train_x)} vs {len(train_y)}, "
            f"{len(test_x)} vs {len(test_y)}"
        )
    return train_x, train_y, test_x, test_y


def linear_probe(train_x, train_y, test_x, test_y, seed: int = 0) -> float:
    """Test accuracy of logistic regression trained on standardised training features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train_x, train_y, test_x, test_y = _check(train_x, train_y, test_x, test_y)
    scaler = StandardScaler().fit(train_x)
    classifier = LogisticRegression(max_iter=MAX_ITERATIONS, random_state=seed)
    classifier.fit(scaler.transform(train_x), train_y)
    return float(np.mean(classifier.predict(scaler.transform(test_x)) == test_y))


def knn_predict(train_x, train_y, test_x, k: int = DEFAULT_K) -> np.ndarray:
    """Majority label of each test row's ``k`` most cosine-similar training rows."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    train_x, train_y = np.asarray(train_x, np.float64), np.asarray(train_y).astype(np.int64)
    test_x = np.asarray(test_x, np.float64)
    if k > len(train_x):
        raise ValueError(f"k={k} exceeds the {len(train_x)} training examples")

    return _majority(_unit(test_x) @ _unit(train_x).T, train_y, k)


def knn_leave_one_out(x, labels, k: int = DEFAULT_K) -> float:
    """kNN accuracy of each row against all the other rows (cosine, majority vote): one
    similarity matrix with each row's own entry removed."""
    x, labels = np.asarray(x, np.float64), np.asarray(labels).astype(np.int64)
    if len(x) < 2:
        raise ValueError(f"leave-one-out kNN needs at least 2 rows, got {len(x)}")
    k = min(k, len(x) - 1)
    similarity = _unit(x) @ _unit(x).T
    np.fill_diagonal(similarity, -np.inf)
    return float(np.mean(_majority(similarity, labels, k) == labels))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _majority(similarity: np.ndarray, train_y: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``similarity [queries, train]``: the majority label of its ``k`` largest
    entries (a stable sort: equal similarities keep the training order; ties of votes go to the
    smallest label)."""
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    votes = np.zeros((len(similarity), int(train_y.max()) + 1), np.int64)
    np.add.at(votes, (np.arange(len(similarity))[:, None], train_y[nearest]), 1)
    return np.argmax(votes, axis=1)


def knn_accuracy(train_x, train_y, test_x, test_y, k: int = DEFAULT_K) -> float:
    train_x, train_y, test_x, test_y = _check(train_x, train_y, test_x, test_y)
    return float(np.mean(knn_predict(train_x, train_y, test_x, k) == test_y))


def probe_embeddings(train_x, train_y, test_x, test_y, k: int = DEFAULT_K) -> dict[str, float]:
    return {
        "linear_probe": linear_probe(train_x, train_y, test_x, test_y),
        "knn": knn_accuracy(train_x, train_y, test_x, test_y, k),
        "k": k,
        "num_train": len(train_x),
        "num_test": len(test_x),
        "embedding_dim": int(np.asarray(train_x).shape[1]),
    }


if __name__ == "__main__":
    from yeehaw_tf.cli.probe import run

    run()
