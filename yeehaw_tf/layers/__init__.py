"""Keras layers, one concept per file; all registered under the ``yeehaw_tf`` package."""

from yeehaw_tf.layers.activations import (
    ACTIVATIONS,
    ELU,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
    elu,
    get_activation,
    leaky_relu,
    relu,
    sigmoid,
    tanh,
)
from yeehaw_tf.layers.batch_normalization import BatchNormalization
from yeehaw_tf.layers.group_normalization import (
    GroupNormalization,
    InstanceNormalization,
    LayerNormalization,
)
from yeehaw_tf.layers.kernel_wrappers import WeightNoise, WeightNormalization
from yeehaw_tf.layers.maxout import ChannelMaxout, Maxout
from yeehaw_tf.layers.normalization import NORMALIZATIONS, get_normalization
from yeehaw_tf.layers.regularization import Dropout, GaussianNoise
from yeehaw_tf.layers.resize import Resize
from yeehaw_tf.layers.stack_outputs import StackOutputs
from yeehaw_tf.layers.standardization import ChannelStandardization

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "BatchNormalization",
    "ChannelMaxout",
    "ChannelStandardization",
    "Dropout",
    "GaussianNoise",
    "GroupNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "LeakyReLU",
    "NORMALIZATIONS",
    "Maxout",
    "ReLU",
    "Resize",
    "Sigmoid",
    "StackOutputs",
    "Tanh",
    "WeightNoise",
    "WeightNormalization",
    "elu",
    "get_activation",
    "get_normalization",
    "leaky_relu",
    "relu",
    "sigmoid",
    "tanh",
]
