"""Receptive fields: how much of the input each layer's output pixel sees.

For every layer, along each spatial axis: ``size`` (receptive-field width in input pixels),
``jump`` (the input distance between adjacent output pixels: the cumulative stride) and
``start`` (the input coordinate of the first output pixel's receptive-field centre, pixel
centres at 0.5, 1.5, ...). A layer with kernel ``k``, stride ``s``, left padding ``p`` and
dilation ``d`` maps ``(size, jump, start)`` to::

    k_eff = d (k - 1) + 1
    size' = size + (k_eff - 1) * jump
    jump' = jump * s
    start' = start + ((k_eff - 1) / 2 - p) * jump

so ``L`` stacked stride-1 ``K x K`` convolutions see ``1 + L (K - 1)`` pixels. Where paths
merge (add, concatenate) the largest receptive field is taken. Global pooling, flattening and
dense layers see the whole input.
"""

from __future__ import annotations

import dataclasses

import keras

from yeehaw_tf.analysis.cost import primitive_layers

_WINDOWED = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
)
_GLOBAL = (
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Flatten,
    keras.layers.Dense,
)


@dataclasses.dataclass(frozen=True)
class _Field:
    size: tuple[float, float] = (1.0, 1.0)
    jump: tuple[float, float] = (1.0, 1.0)
    start: tuple[float, float] = (0.5, 0.5)


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)[:2]


def _same_padding(size, kernel, stride):
    out = -(-size // stride)
    return max((out - 1) * stride + kernel - size, 0) // 2


def _through(layer, field: _Field, in_shape) -> _Field:
    if isinstance(layer, keras.layers.ZeroPadding2D):
        pads = (layer.padding[0][0], layer.padding[1][0])
        return _Field(
            field.size,
            field.jump,
            tuple(s - p * j for s, p, j in zip(field.start, pads, field.jump, strict=True)),
        )
    if isinstance(layer, _GLOBAL):
        spatial = in_shape[1:3] if len(in_shape) >= 4 else (1, 1)
        size = tuple(
            s + (n - 1) * j if n else s
            for s, n, j in zip(field.size, spatial, field.jump, strict=True)
        )
        return _Field(size, field.jump, field.start)
    if not isinstance(layer, _WINDOWED):
        return field  # element-wise layers, normalisation, dropout, ...
    kernel = _pair(getattr(layer, "kernel_size", None) or layer.pool_size)
    stride = _pair(layer.strides)
    dilation = _pair(getattr(layer, "dilation_rate", 1))
    sizes, jumps, starts = [], [], []
    for axis in range(2):
        k_eff = dilation[axis] * (kernel[axis] - 1) + 1
        pad = 0
        if layer.padding == "same" and in_shape[1 + axis] is not None:
            pad = _same_padding(in_shape[1 + axis], k_eff, stride[axis])
        sizes.append(field.size[axis] + (k_eff - 1) * field.jump[axis])
        jumps.append(field.jump[axis] * stride[axis])
        starts.append(field.start[axis] + ((k_eff - 1) / 2 - pad) * field.jump[axis])
    return _Field(tuple(sizes), tuple(jumps), tuple(starts))


def receptive_field(model: keras.Model) -> list[dict]:
    """One row per layer: ``name``, ``size``, ``jump``, ``start`` (height axis; ``size_w``,
    ``jump_w``, ``start_w`` for the width axis)."""
    fields: dict[int, _Field] = {}
    for tensor in model.inputs:
        fields[id(tensor)] = _Field()
    _bridge(model, fields)
    rows = []
    for layer in primitive_layers(model):
        inputs = keras.tree.flatten(layer.input)
        known = [fields[id(t)] for t in inputs if id(t) in fields]
        field = max(known, key=lambda f: f.size[0] * f.size[1]) if known else _Field()
        field = _through(layer, field, tuple(inputs[0].shape))
        for tensor in keras.tree.flatten(layer.output):
            fields[id(tensor)] = field
        _bridge_outputs(model, layer, fields)
        rows.append(
            {
                "name": layer.name,
                "size": field.size[0],
                "jump": field.jump[0],
                "start": field.start[0],
                "size_w": field.size[1],
                "jump_w": field.jump[1],
                "start_w": field.start[1],
            }
        )
    return rows


def _bridge(model, fields):
    """Nested models: their input tensors see what the outer tensors feeding them see."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            for inner, outer in zip(layer.inputs, keras.tree.flatten(layer.input), strict=True):
                fields.setdefault(id(inner), fields.get(id(outer), _Field()))


def _bridge_outputs(model, layer, fields):
    for nested in model.layers:
        if isinstance(nested, keras.Model):
            for inner_out, outer_out in zip(
                keras.tree.flatten(nested.outputs), keras.tree.flatten(nested.output), strict=True
            ):
                if id(inner_out) in fields:
                    fields[id(outer_out)] = fields[id(inner_out)]
            for inner, outer in zip(nested.inputs, keras.tree.flatten(nested.input), strict=True):
                if id(outer) in fields:
                    fields[id(inner)] = fields[id(outer)]
