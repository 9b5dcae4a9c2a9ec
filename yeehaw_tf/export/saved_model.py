"""SavedModel export for serving: a ``serving_default`` signature on raw uint8 images."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
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


class ServingModel:
    """A SavedModel's ``serving_default`` signature with its inputs checked first.

    Called with NumPy arrays, a loaded signature converts them to its input dtype before any
    check of ours runs (a float image becomes uint8 by a C cast: 0.5 -> 0, 300 -> 44); this
    wrapper refuses an input whose dtype or shape differs from the signature's, naming it, and
    returns NumPy outputs. ``tf.Tensor`` inputs to the raw signature fail cleanly either way.
    """

    def __init__(self, path: str):
        self._loaded = tf.saved_model.load(path)  # keep a reference: its variables live here
        self._function = self._loaded.signatures[SERVING_KEY]
        self._specs = self._function.structured_input_signature[1]

    def __call__(self, **inputs) -> dict[str, np.ndarray]:
        if set(inputs) != set(self._specs):
            raise ValueError(f"inputs must be {sorted(self._specs)}, got {sorted(inputs)}")
        tensors = {}
        for name, value in inputs.items():
            spec = self._specs[name]
            dtype = value.dtype if isinstance(value, tf.Tensor) else np.asarray(value).dtype
            shape = tuple(value.shape)
            if tf.as_dtype(dtype) != spec.dtype or not spec.shape.is_compatible_with(shape):
                wanted = ", ".join("?" if d is None else str(d) for d in spec.shape.as_list())
                raise ValueError(
                    f"input {name!r} must be {spec.dtype.name} [{wanted}], got "
                    f"{tf.as_dtype(dtype).name} {list(shape)}"
                )
            tensors[name] = tf.convert_to_tensor(value, spec.dtype)
        return {k: v.numpy() for k, v in self._function(**tensors).items()}
