"""Batch norm's moving statistics lag on short runs: ``resnet20`` on ``digits`` with Keras
``fit`` (Adam 1e-3, batch 64, seed 0), test accuracy in inference mode (moving statistics)
against batch statistics, after 3 and 20 epochs.

    python -m experiments.pitfalls

Expected: docs/pitfalls.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    import keras
    import numpy as np

    from yeehaw_tf.data import load_classification
    from yeehaw_tf.models.registry import build
    from yeehaw_tf.training.tasks.images import as_arrays

    data = load_classification("digits")
    x_train, y_train = as_arrays(data.train)
    x_test, y_test = as_arrays(data.test)
    mean, std = x_train.mean(), x_train.std()
    x_train = ((x_train - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    for epochs in (3, 20):
        keras.utils.set_random_seed(0)
        model = build("resnet20", 10, (8, 8, 1))
        model.compile(
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0)
        inference = np.mean(np.argmax(model(x_test, training=False), -1) == y_test)
        # last: a training-mode call also moves the moving statistics
        batch = np.mean(np.argmax(model(x_test, training=True), -1) == y_test)
        steps = epochs * -(-len(x_train) // 64)
        print(
            f"{epochs} epochs ({steps} steps): inference mode {inference:.4f}, batch statistics "
            f"{batch:.4f}; weight of the initial statistics 0.99^{steps} = {0.99**steps:.3f}"
        )


if __name__ == "__main__":
    main()
