"""TFLite (LiteRT) conversion from a SavedModel, and running the result with ai_edge_litert.

Conversions use ``tf.lite.TFLiteConverter.from_saved_model`` with builtin ops only (no Select-TF
"Flex" ops, which the LiteRT interpreter cannot run). Quantization modes:

- ``float32``: no quantization.
- ``float16``: weights stored as float16, dequantized at load.
- ``dynamic``: dynamic-range quantization: int8 weights, float activations.
- ``int8``: full-integer quantization calibrated on a representative dataset; every
  compute op is int8 (``TFLITE_BUILTINS_INT8``). The uint8 image input is cast and quantized
  on entry and the outputs are dequantized, so the signature is the same as the SavedModel's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from yeehaw_tf.export.saved_model import SERVING_KEY

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")


class TFLiteConversionError(RuntimeError):
    """The TFLite converter failed or crashed; nothing was written. ``signal`` names the signal
    that killed an isolated converter (``"SIGSEGV"``), ``None`` if it failed with an error."""

    def __init__(self, message: str, signal: str | None = None):
        super().__init__(message)
        self.signal = signal


def convert_saved_model(
    saved_model_dir: str,
    quantization: str = "float32",
    representative: Mapping[str, np.ndarray] | np.ndarray | None = None,
    int8_float_ops: Sequence[str] = (),
    isolate: bool | None = None,
) -> bytes:
    """Converts the ``serving_default`` signature of a SavedModel to a TFLite flatbuffer.

    ``representative``: calibration inputs for int8, by input name (an array alone is the
    ``images`` input), one example at a time along axis 0. ``int8_float_ops``: TFLite op types
    (``"EXP"``, ``"LOGISTIC"``, ...) the int8 file keeps in float32 (selective quantization
    through ``tf.lite.experimental.QuantizationDebugger``).

    ``isolate``: run the converter in a child Python process (default: for ``int8`` only). TF's
    calibrating quantizer is C++ that can crash the whole interpreter on some graphs (a
    segmentation fault quantizing an untrained Mask R-CNN, TF 2.21); isolated, a crash becomes
    a :class:`TFLiteConversionError` naming the signal, and the caller's other work survives.
    The child costs a TensorFlow import (a few seconds).
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}"
        )
    calibration = None
    if quantization == "int8":
        if representative is not None and not isinstance(representative, Mapping):
            representative = {"images": representative}
        if not representative or min(len(v) for v in representative.values()) == 0:
            raise ValueError("int8 quantization needs `representative` inputs (a few hundred)")
        calibration = {k: np.asarray(v) for k, v in representative.items()}
    if isolate is None:
        isolate = quantization == "int8"
    if isolate:
        return _convert_in_child(saved_model_dir, quantization, calibration, int8_float_ops)
    return convert_in_process(saved_model_dir, quantization, calibration, int8_float_ops)


def convert_in_process(
    saved_model_dir: str,
    quantization: str,
    calibration: Mapping[str, np.ndarray] | None,
    int8_float_ops: Sequence[str],
) -> bytes:
    """:func:`convert_saved_model` in this process (validated arguments)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=[SERVING_KEY]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization == "int8":

        def examples() -> Iterator[dict]:
            for i in range(min(len(v) for v in calibration.values())):
                yield {k: v[i : i + 1] for k, v in calibration.items()}

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = examples
        # int8 kernels wherever they exist; ops without one (a detector's NMS and top-k) stay
        # float32 builtins -- still no custom or Select TF op
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
    with warnings.catch_warnings():
        # int8 calibration runs TF's own (deprecated) interpreter internally; not our call.
        warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated")
        if quantization == "int8" and int8_float_ops:
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter,
                debug_dataset=lambda: ([v for v in e.values()] for e in examples()),
                debug_options=tf.lite.experimental.QuantizationDebugOptions(
                    denylisted_ops=list(int8_float_ops)
                ),
            )
            return debugger.get_nondebug_quantized_model()
        return converter.convert()


def _convert_in_child(saved_model_dir, quantization, calibration, int8_float_ops) -> bytes:
    """Runs :func:`convert_in_process` in ``python -m yeehaw_tf.export.tflite_child`` (its
    arguments and result pass through files in a temporary directory)."""
    with tempfile.TemporaryDirectory(prefix="tflite_convert_") as tmp:
        request = {
            "saved_model_dir": os.path.abspath(saved_model_dir),
            "quantization": quantization,
            "int8_float_ops": list(int8_float_ops),
        }
        with open(os.path.join(tmp, "request.json"), "w") as f:
            json.dump(request, f)
        if calibration is not None:
            np.savez(os.path.join(tmp, "calibration.npz"), **calibration)
        done = subprocess.run(
            [sys.executable, "-m", "yeehaw_tf.export.tflite_child", tmp], check=False
        )
        result = os.path.join(tmp, "model.tflite")
        if done.returncode == 0 and os.path.exists(result):
            with open(result, "rb") as f:
                return f.read()
        what = f"converting {saved_model_dir} to TFLite {quantization}"
        if done.returncode < 0:
            try:
                name = signal.Signals(-done.returncode).name
            except ValueError:
                name = f"signal {-done.returncode}"
            raise TFLiteConversionError(
                f"the TFLite converter crashed ({name}) {what}; nothing was written. This is "
                "a crash inside TensorFlow's converter, not a problem with the arguments: "
                "leave this quantization out (e.g. `python -m export --quantize=float32 "
                "--quantize=float16 --quantize=dynamic`) or try another TensorFlow version",
                signal=name,
            )
        error = os.path.join(tmp, "error.txt")
        detail = "no error message"
        if os.path.exists(error):
            with open(error) as f:
                detail = f.read().strip()
        raise TFLiteConversionError(
            f"the TFLite converter failed (exit code {done.returncode}) {what}:\n{detail}"
        )


class TFLiteModel:
    """A TFLite flatbuffer loaded in LiteRT's interpreter, called like the SavedModel signature."""

    def __init__(self, model_content: bytes):
        self._content = bytes(model_content)
        self._interpreter = Interpreter(model_content=model_content)
        self._runner = self._interpreter.get_signature_runner(SERVING_KEY)

    def op_names(self) -> list[str]:
        """Names of the ops of every subgraph (a ``WHILE``'s body included), read from the
        flatbuffer's operator codes: builtin names; Select-TF ops start with ``Flex``, other custom
        ops are ``CUSTOM:<name>``."""
        from tensorflow.lite.python import schema_py_generated as schema

        names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        model = schema.Model.GetRootAs(self._content, 0)
        found = set()
        for i in range(model.OperatorCodesLength()):
            code = model.OperatorCodes(i)
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin == schema.BuiltinOperator.CUSTOM:
                custom = code.CustomCode().decode()
                found.add(custom if custom.startswith("Flex") else f"CUSTOM:{custom}")
            else:
                found.add(names.get(builtin, f"BUILTIN_{builtin}"))
        return sorted(found)

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Runs the signature. Each input must have the signature's dtype and shape (``-1`` in
        the signature: any size): LiteRT itself would resize the input tensor and compute on
        a wrongly sized image, or read ``[H, W, C]`` as a batch of ``H`` images."""
        details = self._runner.get_input_details()
        unknown = sorted(set(inputs) - set(details))
        missing = sorted(set(details) - set(inputs))
        if unknown or missing:
            raise ValueError(f"inputs must be {sorted(details)}, got {sorted(inputs)}")
        for name, value in inputs.items():
            value = np.asarray(value)
            expected = details[name]["shape_signature"]
            dtype = np.dtype(details[name]["dtype"])
            shape_ok = value.ndim == len(expected) and all(
                e in (-1, d) for e, d in zip(expected, value.shape, strict=True)
            )
            if value.dtype != dtype or not shape_ok:
                wanted = ", ".join("?" if e == -1 else str(e) for e in expected)
                raise ValueError(
                    f"input {name!r} must be {dtype.name} [{wanted}], got {value.dtype.name} "
                    f"{list(value.shape)}"
                )
        return self._runner(**inputs)


def check_builtin_ops(model: TFLiteModel, name: str) -> list[str]:
    """Returns the op names, raising if any is not a builtin TFLite op."""
    ops = model.op_names()
    custom = [op for op in ops if op.startswith(("Flex", "CUSTOM"))]
    if custom:
        raise ValueError(f"{name} uses non-builtin ops {custom}; LiteRT cannot run them")
    return ops
