"""Export a Keras model to a SavedModel, convert it to TFLite with builtin ops only, and run
both: the check every exportable layer and op gets."""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from tests.helpers import as_list


def run_exported(model: keras.Model, inputs, tmp_path, atol: float = 1e-5) -> list[np.ndarray]:
    """Exports ``model`` (SavedModel, then TFLite with ``TFLITE_BUILTINS`` only: conversion
    fails if any op would need Select-TF), runs both on ``inputs`` and checks each output
    against the Keras model within ``atol``. Returns the TFLite outputs."""
    inputs = as_list(inputs)
    single = inputs if len(inputs) > 1 else inputs[0]
    expected = [keras.ops.convert_to_numpy(y) for y in as_list(model(single))]
    path = os.path.join(str(tmp_path), "saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(path)  # keep a reference: its variables die with it
    served = [np.asarray(y) for y in as_list(loaded.serve(single))]
    for got, want in zip(served, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=atol)
    converter = tf.lite.TFLiteConverter.from_saved_model(path)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    runner = interpreter.get_signature_runner()
    names = [t.name for t in model.inputs]  # the signature's input names
    outputs = runner(**dict(zip(names, inputs, strict=True)))
    got = [outputs[k] for k in sorted(outputs, key=lambda n: int(n.rsplit("_", 1)[-1]))]
    for g, want in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, want, atol=atol)
    return got
