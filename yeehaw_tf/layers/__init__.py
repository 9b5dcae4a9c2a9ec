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
from yeehaw_tf.layers.bilinear_upsampling import BilinearUpsampling2D, ResizeLike, bilinear_resize
from yeehaw_tf.layers.centering import ChannelMeanSubtraction, MeanImageSubtraction
from yeehaw_tf.layers.group_normalization import (
    GroupNormalization,
    InstanceNormalization,
    LayerNormalization,
)
from yeehaw_tf.layers.kernel_wrappers import WeightNoise, WeightNormalization
from yeehaw_tf.layers.max_unpooling import (
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    max_pool_with_argmax,
    max_unpool,
)
from yeehaw_tf.layers.maxout import ChannelMaxout, Maxout
from yeehaw_tf.layers.normalization import NORMALIZATIONS, get_normalization
from yeehaw_tf.layers.regularization import Dropout, GaussianNoise
from yeehaw_tf.layers.resize import Resize
from yeehaw_tf.layers.roi import MultiLevelRoIAlign, RoIAlign, RoIPool
from yeehaw_tf.layers.spectral_normalization import SpectralNormalization
from yeehaw_tf.layers.stack_outputs import StackOutputs
from yeehaw_tf.layers.standardization import ChannelStandardization
from yeehaw_tf.layers.transposed_conv import (
    TransposedConv2D,
    transposed_conv2d,
    transposed_output_length,
)

__all__ = [
    "MultiLevelRoIAlign",
    "RoIAlign",
    "RoIPool",
    "ACTIVATIONS",
    "BatchNormalization",
    "BilinearUpsampling2D",
    "ChannelMaxout",
    "ChannelMeanSubtraction",
    "ChannelStandardization",
    "Dropout",
    "ELU",
    "GaussianNoise",
    "GroupNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "LeakyReLU",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "MeanImageSubtraction",
    "Maxout",
    "NORMALIZATIONS",
    "ReLU",
    "Resize",
    "ResizeLike",
    "Sigmoid",
    "SpectralNormalization",
    "StackOutputs",
    "Tanh",
    "TransposedConv2D",
    "WeightNoise",
    "WeightNormalization",
    "bilinear_resize",
    "elu",
    "get_activation",
    "get_normalization",
    "leaky_relu",
    "max_pool_with_argmax",
    "max_unpool",
    "relu",
    "sigmoid",
    "tanh",
    "transposed_conv2d",
    "transposed_output_length",
]
