"""Self-supervised pre-training: every method on one encoder, one dataset, one budget and one
probe (``task.py``); the methods in ``pretexts.py``, ``generative.py`` and ``siamese.py``."""

from yeehaw_tf.training.tasks.self_supervised.options import METHODS, SelfSupervisedOptions
from yeehaw_tf.training.tasks.self_supervised.task import METHOD_CLASSES, SelfSupervisedTask

__all__ = ["METHODS", "METHOD_CLASSES", "SelfSupervisedOptions", "SelfSupervisedTask"]
