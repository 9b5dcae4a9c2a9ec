"""Optimizers and learning-rate schedules written from their update equations.

Each optimizer is a ``keras.optimizers.Optimizer`` subclass: it works with ``fit``, our Trainer,
``tf.distribute`` strategies and checkpoints, and takes the base class's options
(``weight_decay`` -- decoupled --, ``clipnorm``, ``global_clipnorm``, ``clipvalue``).

Precision: hyper-parameters enter the update in the variable's dtype, exactly (Keras's own
optimizers round some of them to float32 first, which shows in float64 training). The learning
rate is the base class's float32 variable, as in Keras.
"""

from yeehaw_tf.optimizers import schedules
from yeehaw_tf.optimizers.adagrad import AdaGrad
from yeehaw_tf.optimizers.adam import Adam, AdamW
from yeehaw_tf.optimizers.factory import (
    OPTIMIZERS,
    SCHEDULES,
    check_optimizer_options,
    make_optimizer,
    make_schedule,
)
from yeehaw_tf.optimizers.rmsprop import RMSProp
from yeehaw_tf.optimizers.sgd import SGD

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "RMSProp",
    "check_optimizer_options",
    "make_optimizer",
    "make_schedule",
    "schedules",
]
