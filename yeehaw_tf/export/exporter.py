"""Export any model from its serving spec to every format, and prove each file against the
Keras model.

Writes, atomically, into ``export_dir``:

- ``saved_model/``: the serving SavedModel (see :mod:`yeehaw_tf.export.saved_model`);
- ``model_<quantization>.tflite`` for each requested quantization (builtin ops only, run in
  LiteRT);
- ``metadata.json``: the spec's metadata and the signature (what a serving tool needs);
- ``report.json``: per format, file size, per checked output the largest absolute difference
  from the Keras model's outputs on the evaluation inputs and its limit, the spec's scores
  (accuracy, mean IoU, ...) with their allowed drops, and whether it met them.

If any format misses a limit the export fails and ``export_dir`` keeps what it had before.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from yeehaw_tf.atomic import atomic_directory
from yeehaw_tf.export.saved_model import (
    ServingModel,
    export_saved_model,
    nonempty_batch,
    signature_names,
)
from yeehaw_tf.export.spec import ServingSpec
from yeehaw_tf.export.tflite import (
    QUANTIZATIONS,
    TFLiteConversionError,
    TFLiteModel,
    check_builtin_ops,
    convert_saved_model,
)

FORMATS = ("saved_model", "tflite")


class ExportCheckError(RuntimeError):
    """An exported model does not reproduce the Keras model within its limits.

    ``report`` holds the full per-format report (what would have been report.json).
    """

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
    )


def run_batched(
    fn: Callable[..., Mapping], inputs: Mapping[str, np.ndarray], batch_size: int
) -> dict[str, np.ndarray]:
    """``fn(**inputs)`` in batches along axis 0, outputs concatenated."""
    total = len(next(iter(inputs.values())))
    parts = [
        fn(**{k: v[i : i + batch_size] for k, v in inputs.items()})
        for i in range(0, total, batch_size)
    ]
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}


def keras_reference(spec: ServingSpec, batch_size: int = 256) -> dict[str, np.ndarray]:
    """The serving function run on the Keras model: what every exported file is held to."""
    signature = [spec.inputs[name] for name in spec.inputs]
    names = list(spec.inputs)
    traced = tf.function(
        lambda *args: nonempty_batch(spec.serve)(**dict(zip(names, args, strict=True))),
        input_signature=signature,
    )
    return run_batched(lambda **x: traced(*[x[n] for n in names]), spec.examples, batch_size)


def _traced(signature, names):
    def call(*args):
        return signature.serve(**dict(zip(names, args, strict=True)))

    return tf.function(call, input_signature=list(signature.inputs.values()))


def check_signatures(spec: ServingSpec, saved_model_dir: str) -> dict:
    """Each further signature of the loaded SavedModel against ``serve`` on the Keras model,
    on its example calls: the largest absolute difference over every output and call."""
    rows = {}
    for key, signature in spec.signatures.items():
        names = list(signature.inputs)
        traced = _traced(signature, names)
        loaded = ServingModel(saved_model_dir, key)
        diff = 0.0
        for call in signature.examples:
            expected = {k: v.numpy() for k, v in traced(*[call[n] for n in names]).items()}
            got = loaded(**call)
            for output, value in expected.items():
                if got[output].shape != value.shape:
                    diff = float("inf")
                    continue
                delta = np.abs(got[output].astype(np.float64) - value.astype(np.float64))
                diff = max(diff, float(np.max(delta, initial=0.0)))
        rows[key] = {
            "calls": len(signature.examples),
            "max_abs_diff": diff,
            "max_abs_diff_limit": signature.max_abs_diff,
            "passed": bool(diff <= signature.max_abs_diff),
        }
    return rows


def _check(name: str, outputs, reference, keras_scores, spec: ServingSpec, extra) -> dict:
    row = dict(extra)
    passed = True
    per_output = {}
    for output, check in spec.checks.items():
        if outputs[output].shape != reference[output].shape:
            diff = float("inf")
        else:
            diff = float(
                np.max(
                    np.abs(
                        outputs[output].astype(np.float64) - reference[output].astype(np.float64)
                    ),
                    initial=0.0,
                )
            )
        limit = check.limit(name)
        per_output[output] = {"max_abs_diff": diff, "max_abs_diff_limit": limit}
        passed = passed and (limit is None or diff <= limit)
    row["outputs"] = per_output
    if spec.primary is not None:
        row.update(per_output[spec.primary])
    if spec.score is not None:
        for metric, value in spec.score(outputs).items():
            row[metric] = value
            if metric in spec.max_drop:
                row[f"max_{metric}_drop"] = spec.max_drop[metric]
                passed = passed and keras_scores[metric] - value <= spec.max_drop[metric]
    if spec.consistent is not None:
        passed = passed and spec.consistent(outputs)
    if spec.compare is not None:
        entries, ok = spec.compare(name, outputs, reference)
        row.update(entries)
        passed = passed and ok
    row["passed"] = bool(passed)
    return row


def export_spec(
    spec: ServingSpec,
    export_dir: str,
    *,
    formats: Sequence[str] = FORMATS,
    quantizations: Sequence[str] = QUANTIZATIONS,
    batch_size: int | None = None,
) -> dict:
    """Exports ``spec`` and checks every file against the Keras model on ``spec.examples``.

    Args:
        spec: the model, signature, serving function, evaluation inputs and checks.
        export_dir: the directory to (re)place.
        formats: any of ``saved_model``, ``tflite`` (TFLite is converted from the SavedModel,
            so it is always written when ``tflite`` is asked for).
        quantizations: TFLite variants, any of ``float32, float16, dynamic, int8``.
        batch_size: examples per call on ``spec.examples`` (default: ``spec.batch_size``).

    Returns:
        The report (also written to ``export_dir/report.json``).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {list(formats)}")
    unknown = sorted(set(quantizations) - set(QUANTIZATIONS))
    if unknown or ("tflite" in formats and not quantizations):
        raise ValueError(
            f"quantizations must be a non-empty subset of {QUANTIZATIONS}, "
            f"got {list(quantizations)}"
        )
    examples = {k: np.asarray(v) for k, v in spec.examples.items()}
    batch_size = batch_size or spec.batch_size
    reference = keras_reference(spec, batch_size)
    missing = sorted(set(spec.checks) - set(reference))
    if missing:
        raise ValueError(
            f"the serving function returns no {missing} (it returns {sorted(reference)})"
        )
    keras_scores = dict(spec.score(reference)) if spec.score is not None else {}
    keras_row = {**keras_scores, "parameters": int(spec.model.count_params())}
    report = {
        "num_examples": int(len(next(iter(examples.values())))),
        "keras": keras_row,
        "formats": {},
    }
    with atomic_directory(export_dir) as staging:
        saved_model_dir = os.path.join(staging, "saved_model")
        export_saved_model(spec, saved_model_dir)
        if "saved_model" in formats:
            serve = ServingModel(saved_model_dir)
            outputs = run_batched(serve, examples, batch_size)
            row = _check(
                "saved_model",
                outputs,
                reference,
                keras_scores,
                spec,
                {"file": "saved_model", "size_bytes": _size(saved_model_dir)},
            )
            if spec.signatures:
                row["signatures"] = check_signatures(spec, saved_model_dir)
                row["passed"] = row["passed"] and all(
                    s["passed"] for s in row["signatures"].values()
                )
            report["formats"]["saved_model"] = row
        if "tflite" in formats:
            for quantization in quantizations:
                filename = f"model_{quantization}.tflite"
                try:
                    content = convert_saved_model(
                        saved_model_dir, quantization, spec.representative, spec.int8_float_ops
                    )
                except TFLiteConversionError as error:  # a failed format, like a parity miss
                    report["formats"][quantization] = {
                        "file": filename,
                        "passed": False,
                        "error": str(error),
                    }
                    continue
                with open(os.path.join(staging, filename), "wb") as f:
                    f.write(content)
                tflite = TFLiteModel(content)
                ops = check_builtin_ops(tflite, filename)
                outputs = run_batched(tflite, examples, batch_size)
                report["formats"][quantization] = _check(
                    quantization,
                    outputs,
                    reference,
                    keras_scores,
                    spec,
                    {"file": filename, "size_bytes": len(content), "ops": ops},
                )
        if "saved_model" not in formats:
            shutil.rmtree(saved_model_dir)  # only the source of the TFLite conversions
        metadata = {
            **spec.metadata,
            "inputs": {
                name: {"dtype": s.dtype.name, "shape": s.shape.as_list()}
                for name, s in spec.inputs.items()
            },
            "outputs": sorted(reference),
            "signatures": signature_names(spec),
        }
        with open(os.path.join(staging, "metadata.json"), "w") as f:
            json.dump(metadata, f, indent=2)
        with open(os.path.join(staging, "report.json"), "w") as f:
            json.dump(report, f, indent=2)
        failed = {k: v for k, v in report["formats"].items() if not v["passed"]}
        if failed:
            shown = {k: {m: v for m, v in row.items() if m != "ops"} for k, row in failed.items()}
            raise ExportCheckError(
                "exported models do not match the Keras model: "
                + json.dumps(shown, indent=2)
                + f"\n(Keras: {json.dumps(keras_scores)}); nothing was written",
                report,
            )
    return report
