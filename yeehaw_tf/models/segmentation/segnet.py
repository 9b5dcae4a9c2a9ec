"""SegNet (Badrinarayanan, Kendall & Cipolla, 2017): an encoder-decoder whose decoder upsamples
with **max unpooling**. Each encoder pool remembers where its maxima were; the matching decoder
stage puts its values back at those positions (zeros elsewhere, a sparse map) and densifies them
with convolutions. No features are copied across, only indices, which keeps the decoder small.

The encoder is VGG16's 13 convolutions with batch norm; the decoder mirrors it, its last
convolution giving the class scores (the paper's 29.5M parameters with 3x3 kernels).
"""

from __future__ import annotations

import keras

from yeehaw_tf.layers.conv_blocks import conv, conv_norm_act
from yeehaw_tf.layers.max_unpooling import MaxPoolingWithArgmax2D, MaxUnpooling2D
from yeehaw_tf.models.validation import check_classifier_args

# Filters of each encoder stage (VGG16); the decoder runs them in reverse.
ENCODER = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def segnet(
    num_classes: int = 12,
    input_shape=(360, 480, 3),
    base_filters: int = 64,
    stages: int = 5,
) -> keras.Model:
    """Builds SegNet.

    Args:
        num_classes: output channels (the paper's CamVid: 11 classes plus void).
        input_shape: ``(H, W, C)``; any size of at least ``2**stages`` (pools of odd sizes are
            undone exactly: unpooling restores each encoder stage's size).
        base_filters: the first stage's filters (the paper: 64); stages scale VGG16's widths.
        stages: encoder stages used, 1..5 (the paper: 5).
    Returns:
        A model ``[batch, H, W, C] -> logits [batch, H, W, num_classes]``.
    """
    if not isinstance(stages, int) or not 1 <= stages <= len(ENCODER):
        raise ValueError(f"stages must be an integer in [1, {len(ENCODER)}], got {stages!r}")
    check_classifier_args(num_classes, input_shape, min_size=2**stages)
    if not isinstance(base_filters, int) or base_filters < 1:
        raise ValueError(f"base_filters must be a positive integer, got {base_filters!r}")
    widths = [tuple(w * base_filters // 64 for w in stage) for stage in ENCODER[:stages]]
    inputs = keras.Input(tuple(input_shape), name="images")
    x, pools = inputs, []
    for s, stage in enumerate(widths, start=1):
        for i, filters in enumerate(stage, start=1):
            x = conv_norm_act(x, filters, 3, 1, "same", name=f"enc{s}_conv{i}")
        before = x
        x, argmax = MaxPoolingWithArgmax2D(2, name=f"enc{s}_pool")(x)
        pools.append((argmax, before))
    for s in reversed(range(1, stages + 1)):
        argmax, before = pools[s - 1]
        x = MaxUnpooling2D(name=f"dec{s}_unpool")([x, argmax, before])
        # mirror the encoder stage: its widths reversed, ending at the previous stage's width
        stage = widths[s - 1]
        out = widths[s - 2][-1] if s > 1 else None
        for i, filters in enumerate(reversed(stage), start=1):
            last = i == len(stage)
            if last and out is None:
                x = conv(x, num_classes, 3, 1, "same", name=f"dec{s}_conv{i}")
                break
            x = conv_norm_act(x, out if last else filters, 3, 1, "same", name=f"dec{s}_conv{i}")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(x)
    return keras.Model(inputs, logits, name="segnet")
