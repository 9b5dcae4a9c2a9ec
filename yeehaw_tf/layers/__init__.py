"""Keras layers, one concept per file; all registered under the ``yeehaw_tf`` package."""

from yeehaw_tf.layers.standardization import ChannelStandardization

__all__ = ["ChannelStandardization"]
