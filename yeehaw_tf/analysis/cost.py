"""The lecture's "Table View": per layer, shapes, memory, parameters and FLOPs.

Memory is the layer's output activations x 4 bytes (float32), in KB of 1,024 bytes; FLOPs are
multiply-adds of convolutions and fully-connected layers (one multiply-add counts as one);
other layers (pooling, normalisation, activations, additions) count 0 FLOPs. The totals row
makes the notes' observations visible: memory is spent in the early convolutions, parameters
in the fully-connected layers, FLOPs in the convolutions.
"""

from __future__ import annotations

import math

import keras

_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def primitive_layers(model: keras.Model):
    """``model``'s layers in graph order, with nested models replaced by their layers."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            yield from primitive_layers(layer)
        else:
            yield layer


def _shape(tensor):
    tensors = keras.tree.flatten(tensor)
    return tuple(tensors[0].shape) if len(tensors) == 1 else [tuple(t.shape) for t in tensors]


def _spatial(shape) -> str:
    if isinstance(shape, list) or len(shape) < 3:
        return ""
    return "x".join(str(d) for d in shape[1:-1])


def _flops(layer, in_shape, out_shape) -> int:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel = math.prod(layer.kernel_size)
        return math.prod(out_shape[1:]) * kernel
    if isinstance(layer, _CONVS):
        per_output = math.prod(layer.kernel_size) * in_shape[-1] // layer.groups
        return math.prod(out_shape[1:]) * per_output
    if isinstance(layer, keras.layers.Dense):
        return math.prod(out_shape[1:]) * in_shape[-1]
    return 0


def _geometry(layer) -> dict:
    if isinstance(layer, (*_CONVS, keras.layers.DepthwiseConv2D)):
        return {
            "filters": getattr(layer, "filters", None) or "",
            "kernel": "x".join(map(str, layer.kernel_size)),
            "stride": "x".join(map(str, layer.strides)),
            "padding": layer.padding,
        }
    if hasattr(layer, "pool_size"):
        return {
            "kernel": "x".join(map(str, layer.pool_size)),
            "stride": "x".join(map(str, layer.strides)),
            "padding": layer.padding,
        }
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return {"padding": str(layer.padding)}
    if isinstance(layer, keras.layers.Dense):
        return {"filters": layer.units}
    return {}


def cost_table(model: keras.Model, input_shape=None) -> list[dict]:
    """One row per layer plus a final ``total`` row.

    Args:
        model: a functional Keras model (nested functional models are expanded).
        input_shape: ``(H, W, C)`` to analyse at; if it differs from the model's, the model is
            cloned at that size (fresh weights; the architecture is what is measured).

    Each row has ``name, type, input_channels, input_size, filters, kernel, stride, padding,
    output_channels, output_size, output_shape, memory_kb, params, flops``.
    """
    if input_shape is not None and tuple(model.input_shape[1:]) != tuple(input_shape):
        model = keras.models.clone_model(model, input_tensors=keras.Input(tuple(input_shape)))
    rows = []
    for layer in primitive_layers(model):
        in_shape, out_shape = _shape(layer.input), _shape(layer.output)
        first_in = in_shape[0] if isinstance(in_shape, list) else in_shape
        outputs = out_shape if isinstance(out_shape, list) else [out_shape]
        row = {
            "name": layer.name,
            "type": type(layer).__name__,
            "input_channels": first_in[-1],
            "input_size": _spatial(first_in),
            "filters": "",
            "kernel": "",
            "stride": "",
            "padding": "",
            "output_channels": outputs[0][-1],
            "output_size": _spatial(outputs[0]),
            "output_shape": out_shape,
            "memory_kb": sum(math.prod(s[1:]) for s in outputs) * 4 / 1024,
            "params": layer.count_params(),
            "flops": _flops(layer, first_in, outputs[0]) if not isinstance(in_shape, list) else 0,
        }
        row.update(_geometry(layer))
        rows.append(row)
    rows.append(
        {
            "name": "total",
            "type": "",
            "input_channels": "",
            "input_size": "",
            "filters": "",
            "kernel": "",
            "stride": "",
            "padding": "",
            "output_channels": "",
            "output_size": "",
            "output_shape": "",
            "memory_kb": sum(r["memory_kb"] for r in rows),
            "params": sum(r["params"] for r in rows),
            "flops": sum(r["flops"] for r in rows),
        }
    )
    return rows


COLUMNS = (
    "name",
    "type",
    "input_channels",
    "input_size",
    "filters",
    "kernel",
    "stride",
    "padding",
    "output_channels",
    "output_size",
    "memory_kb",
    "params",
    "flops",
)


def format_table(rows: list[dict], fmt: str = "text") -> str:
    """The rows as ``text`` (aligned columns), ``markdown`` or ``csv``."""
    if fmt not in ("text", "markdown", "csv"):
        raise ValueError(f"format must be text, markdown or csv, got {fmt!r}")

    def cell(row, column):
        value = row[column]
        if column == "memory_kb":
            return f"{value:.1f}"
        if column in ("params", "flops") and isinstance(value, int):
            return f"{value:,}" if fmt != "csv" else str(value)
        return str(value)

    table = [[cell(r, c) for c in COLUMNS] for r in rows]
    if fmt == "csv":
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(table)
        return out.getvalue().rstrip("\n")
    if fmt == "markdown":
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in table])
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in table]
    return "\n".join(lines)
