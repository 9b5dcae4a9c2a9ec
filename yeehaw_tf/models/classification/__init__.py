"""Classification architectures, one family per file."""

from yeehaw_tf.models.classification.small_resnet import small_resnet

__all__ = ["small_resnet"]
