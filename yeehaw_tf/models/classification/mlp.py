"""Multilayer perceptrons: flatten, fully-connected layers with a non-linearity, logits.

The hidden widths are data (``MLPS``): ``mlp`` (two layers of 256), ``mlp_small`` (one layer
of 32: the deliberately small student of the distillation experiment), and Hinton et al.'s
(2015) MNIST networks ``mlp_1200`` (teacher, two layers of 1200) and ``mlp_800`` (student, two
layers of 800). The activation (``sigmoid`` and ``tanh`` saturate, which is why zero-centred
inputs matter to them), dropout and weight penalty are choices.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from yeehaw_tf.layers import Dropout, get_activation
from yeehaw_tf.models.validation import check_classifier_args

MLPS: dict[str, tuple[int, ...]] = {
    "mlp": (256, 256),
    "mlp_small": (32,),
    "mlp_800": (800, 800),
    "mlp_1200": (1200, 1200),
}


def mlp(
    num_classes: int = 10,
    input_shape: Sequence[int] = (8, 8, 1),
    hidden: Sequence[int] = MLPS["mlp"],
    activation: str = "relu",
    dropout: float = 0.0,
    kernel_regularizer: keras.regularizers.Regularizer | None = None,
    name: str = "mlp",
) -> keras.Model:
    """Dense layers of widths ``hidden``, each followed by ``activation`` (and ``dropout``
    when non-zero), then a linear layer to ``num_classes`` logits (float32)."""
    check_classifier_args(num_classes, input_shape, min_size=1)
    if not hidden or min(hidden) < 1:
        raise ValueError(f"hidden must be positive layer widths, got {tuple(hidden)}")
    inputs = keras.Input(tuple(input_shape), name="images")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, width in enumerate(hidden):
        x = keras.layers.Dense(width, kernel_regularizer=kernel_regularizer, name=f"fc{i + 1}")(x)
        x = get_activation(activation, name=f"fc{i + 1}_{activation}")(x)
        if dropout:
            x = Dropout(dropout, name=f"fc{i + 1}_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, kernel_regularizer=kernel_regularizer, dtype="float32", name="logits"
    )(x)
    return keras.Model(inputs, outputs, name=name)
