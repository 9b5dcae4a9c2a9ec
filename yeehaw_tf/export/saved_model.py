"""SavedModel export for serving: a ``serving_default`` signature on raw uint8 images."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

SERVING_KEY = "serving_default"


def export_classifier_saved_model(
    model: keras.Model, path: str, image_shape: Sequence[int]
) -> None:
    """Writes ``model`` (float pixels -> logits) as a SavedModel that serves raw images.

    Signature ``serving_default``:
        inputs: ``images``, uint8 ``[batch, H, W, C]`` (``image_shape``);
        outputs: ``probabilities``, float32 ``[batch, num_classes]`` (softmax of the logits),
        and ``classes``, int64 ``[batch]`` (their argmax).

    The SavedModel needs only TensorFlow to load: the Keras model is traced into plain graphs.
    Inputs of the wrong dtype or shape fail with ``InvalidArgumentError``.
    """
    spec = tf.TensorSpec([None, *image_shape], tf.uint8, name="images")

    def serve(images):
        # A loaded signature checks the dtype but not the shape: without this a wrongly sized
        # image is silently computed on (or crashes a kernel). EnsureShape fails cleanly.
        images = tf.ensure_shape(images, spec.shape)
        logits = model(tf.cast(images, tf.float32), training=False)
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        return {
            "probabilities": probabilities,
            "classes": tf.argmax(probabilities, axis=-1, output_type=tf.int64),
        }

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SERVING_KEY, serve, input_signature=[spec])
    archive.write_out(path, verbose=False)
