"""The self-supervised task's serving spec: raw uint8 images in, ``embeddings`` out (the MAE:
also ``reconstruction`` and ``mask`` from a ``noise`` input that chooses the masked patches).

Each export is held to the Keras model element-wise (float32 formats) and, for every format, by
what the embeddings are for: the leave-one-out kNN accuracy on the test split may not drop by
more than a point."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from yeehaw_tf.analysis.probe import knn_leave_one_out
from yeehaw_tf.export.spec import MAX_ACCURACY_DROP, OutputCheck, ServingSpec, image_input
from yeehaw_tf.training.tasks.images import as_arrays

EMBEDDING_LIMITS = {"saved_model": 1e-4, "float32": 1e-3}
NUM_REPRESENTATIVE = 256
NOISE_SEED = 0


def embeddings_spec(task, model, data) -> ServingSpec:
    images, labels = as_arrays(data.test)
    representative, _ = as_arrays(data.train, NUM_REPRESENTATIVE)
    inputs = dict(image_input(images.shape[1:]))
    examples = {"images": images}
    calibration = {"images": representative}
    checks = {"embeddings": OutputCheck(EMBEDDING_LIMITS)}
    reconstructs = len(model.inputs) > 1
    if reconstructs:
        patches = int(model.inputs[1].shape[-1])
        rng = np.random.default_rng(NOISE_SEED)
        inputs["noise"] = tf.TensorSpec([None, patches], tf.float32, name="noise")
        examples["noise"] = rng.uniform(size=(len(images), patches)).astype(np.float32)
        calibration["noise"] = rng.uniform(size=(len(representative), patches)).astype(np.float32)
        checks["reconstruction"] = OutputCheck(EMBEDDING_LIMITS)

    def serve(images, noise=None):
        pixels = tf.cast(images, tf.float32)
        if reconstructs:
            out = model({"images": pixels, "noise": noise}, training=False)
            return {
                k: tf.cast(out[k], tf.float32) for k in ("embeddings", "reconstruction", "mask")
            }
        out = model(pixels, training=False)
        return {"embeddings": tf.cast(out["embeddings"], tf.float32)}

    k = task.options.probe_k

    def score(outputs):
        return {"knn_accuracy": knn_leave_one_out(outputs["embeddings"], labels, k)}

    return ServingSpec(
        model=model,
        inputs=inputs,
        serve=serve,
        examples=examples,
        representative=calibration,
        checks=checks,
        score=score,
        max_drop={"knn_accuracy": MAX_ACCURACY_DROP},
        primary="embeddings",
        metadata={
            "task": task.name,
            "method": task.options.method,
            "encoder": task.options.encoder,
            "embedding_dim": int(model.output["embeddings"].shape[-1]),
        },
    )
