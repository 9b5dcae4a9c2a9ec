"""SavedModel export for serving: a ``serving_default`` signature from a serving spec."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

SERVING_KEY = "serving_default"


def nonempty_batch(serve: Callable[..., dict]) -> Callable[..., dict]:
    """``serve`` that also answers an empty batch: a batch of 0 is padded with one zero
    example (oneDNN's batch norm, among others, fails on empty inputs) and the outputs cut back
    to 0 rows. A non-empty batch is passed through unchanged (no extra example is computed).

    Integer inputs (uint8 images) reach ``serve`` as float32 (the value unchanged): the padding
    then runs on floats, which full-integer TFLite quantization can hold (a uint8 ``PAD`` it
    cannot)."""

    def pad(x, count):
        if x.dtype.is_integer:
            x = tf.cast(x, tf.float32)
        # concat, not pad: the inner dimensions stay static for the TFLite converter
        return tf.concat([x, tf.zeros(tf.stack([count, *x.shape[1:]]), x.dtype)], axis=0)

    def wrapped(**inputs):
        first = next(iter(inputs.values()))
        size = tf.shape(first)[0]
        count = tf.maximum(1 - size, 0)
        padded = {name: pad(x, count) for name, x in inputs.items()}
        return {name: y[:size] for name, y in serve(**padded).items()}

    return wrapped


def export_saved_model(spec, path: str) -> None:
    """Writes the model of a :class:`~yeehaw_tf.export.spec.ServingSpec` as a SavedModel whose
    ``serving_default`` signature takes ``spec.inputs`` and returns ``spec.serve``'s outputs.

    The SavedModel needs only TensorFlow to load: the Keras model is traced into plain graphs.
    Inputs of the wrong dtype or shape fail with ``InvalidArgumentError``; an empty batch gives
    empty outputs.
    """
    names = list(spec.inputs)
    signature = [spec.inputs[name] for name in names]
    serve = nonempty_batch(spec.serve)

    def endpoint(*args):
        # A loaded signature checks the dtype but not the shape: without this a wrongly sized
        # image is silently computed on (or crashes a kernel). EnsureShape fails cleanly.
        inputs = {
            name: tf.ensure_shape(x, s.shape)
            for name, x, s in zip(names, args, signature, strict=True)
        }
        return serve(**inputs)

    archive = keras.export.ExportArchive()
    archive.track(spec.model)
    archive.add_endpoint(SERVING_KEY, endpoint, input_signature=signature)
    for key, extra in spec.signatures.items():
        archive.add_endpoint(
            key, _keyword_endpoint(extra), input_signature=list(extra.inputs.values())
        )
    archive.write_out(path, verbose=False)


def _keyword_endpoint(extra):
    names = list(extra.inputs)

    def endpoint(*args):
        return extra.serve(**dict(zip(names, args, strict=True)))

    return endpoint


def signature_names(spec) -> dict[str, list[str]]:
    """Signature key -> input names, for ``metadata.json``."""
    return {
        SERVING_KEY: list(spec.inputs),
        **{k: list(v.inputs) for k, v in spec.signatures.items()},
    }


class ServingModel:
    """A SavedModel's ``serving_default`` signature with its inputs checked first.

    Called with NumPy arrays, a loaded signature converts them to its input dtype before any
    check of ours runs (a float image becomes uint8 by a C cast: 0.5 -> 0, 300 -> 44); this
    wrapper refuses an input whose dtype or shape differs from the signature's, naming it, and
    returns NumPy outputs. ``tf.Tensor`` inputs to the raw signature fail cleanly either way.
    """

    def __init__(self, path: str, signature: str = SERVING_KEY):
        self._loaded = tf.saved_model.load(path)  # keep a reference: its variables live here
        if signature not in self._loaded.signatures:
            raise ValueError(
                f"signature {signature!r} is not in {path}; it has "
                f"{sorted(self._loaded.signatures)}"
            )
        self._function = self._loaded.signatures[signature]
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
