"""Metrics."""

from yeehaw_tf.metrics.main_output import MainOutputAccuracy

__all__ = ["MainOutputAccuracy"]
