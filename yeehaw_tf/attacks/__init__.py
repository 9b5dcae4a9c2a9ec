"""Adversarial examples: gradient-sign attacks on any classifier from raw pixels to logits.

* :func:`fgsm`: the fast gradient sign method (Goodfellow et al. 2015).
* :func:`iterative_fgsm`: the basic iterative method, and :func:`least_likely`: the iterative
  least-likely class method (Kurakin et al. 2016), with the paper's :func:`bim_iterations`.
* ``ATTACKS``: the three by name with one signature ``(model, images, labels, epsilon)``.
* :func:`attack_report`: accuracy under each attack at each epsilon over a test set.

``python -m yeehaw_tf.attacks --workdir W`` measures a trained run and writes ``W/attacks/``
(``report.json``, ``accuracy_vs_epsilon.png``, ``examples.png``); see ``docs/attacks.md``.
"""

from yeehaw_tf.attacks.gradient_sign import PIXEL_RANGE, cross_entropy, fgsm, input_gradient
from yeehaw_tf.attacks.iterative import (
    bim_iterations,
    iterative_fgsm,
    least_likely,
    least_likely_class,
)
from yeehaw_tf.attacks.registry import ATTACKS, attack_names, get_attack
from yeehaw_tf.attacks.report import adversarial_examples, attack_report, format_report

__all__ = [
    "ATTACKS",
    "PIXEL_RANGE",
    "adversarial_examples",
    "attack_names",
    "attack_report",
    "bim_iterations",
    "cross_entropy",
    "fgsm",
    "format_report",
    "get_attack",
    "input_gradient",
    "iterative_fgsm",
    "least_likely",
    "least_likely_class",
]
