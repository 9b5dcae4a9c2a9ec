"""Accuracy under attack: every attack at every epsilon over a test set, as a table.

For each attack and epsilon the report holds the accuracy on the adversarial images and the
rate at which their prediction is the clean image's least likely class (what the
least-likely-class attack aims for; near 0 for the untargeted ones). Epsilon 0 is the clean
accuracy. :func:`write_report` writes it as ``report.json`` with the accuracy curves.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.atomic import atomic_write_text
from yeehaw_tf.attacks.arguments import check_epsilon, check_pixel_range
from yeehaw_tf.attacks.gradient_sign import PIXEL_RANGE
from yeehaw_tf.attacks.iterative import least_likely_class
from yeehaw_tf.attacks.registry import get_attack

REPORT_FILE = "report.json"
CURVES_FILE = "accuracy_vs_epsilon.png"
EXAMPLES_FILE = "examples.png"


def _predict(model: keras.Model, images: tf.Tensor) -> tf.Tensor:
    return tf.argmax(model(images, training=False), axis=-1)


def _batches(dataset: Iterable, max_examples: int | None):
    """``(images float32, labels int64)`` batches of ``dataset``, stopping after
    ``max_examples`` examples (the last batch cut to fit)."""
    seen = 0
    for images, labels in dataset:
        if max_examples is not None:
            images, labels = images[: max_examples - seen], labels[: max_examples - seen]
        if len(labels) == 0:
            break
        seen += len(labels)
        yield tf.cast(images, tf.float32), tf.cast(labels, tf.int64)


def _attacked(model, attack, epsilon, pixel_range, images, labels) -> tf.Tensor:
    return _predict(model, attack(model, images, labels, epsilon, pixel_range=pixel_range))


def _compile(model, functions, epsilons, pixel_range, shape):
    """The model's predictions, clean and under each attack at each epsilon, as one graph each
    (the iterative loops run inside it), for batches of any size of images ``shape[1:]``."""
    signature = [tf.TensorSpec([None, *shape[1:]], tf.float32), tf.TensorSpec([None], tf.int64)]
    predict = tf.function(  # the predicted and the least likely class of the clean images
        lambda x: (_predict(model, x), least_likely_class(model, x)),
        input_signature=signature[:1],
        autograph=False,
    )
    attacked = {  # partial objects, not lambdas: TF counts the traces of one lambda together
        (name, epsilon): tf.function(
            functools.partial(_attacked, model, attack, epsilon, pixel_range),
            input_signature=signature,
            autograph=False,  # no Python control flow on tensors; converting costs tracing time
        )
        for name, attack in functions.items()
        for epsilon in epsilons
    }
    return predict, attacked


def attack_report(
    model: keras.Model,
    dataset: Iterable,
    epsilons: Sequence[float],
    attacks: Sequence[str],
    max_examples: int | None = None,
    pixel_range: tuple[float, float] = PIXEL_RANGE,
) -> dict:
    """Runs each of ``attacks`` (names in ``ATTACKS``) at each of ``epsilons`` on ``dataset``
    (batches of ``(images in pixel units, integer labels)``), over at most ``max_examples``.

    Returns ``{"num_examples", "epsilons", "pixel_range", "clean_accuracy", "attacks": {name:
    [{"epsilon", "accuracy", "least_likely_rate"}, ...]}}``, one row per epsilon in order.
    """
    pixel_range = check_pixel_range(pixel_range)
    epsilons = [check_epsilon(e, pixel_range) for e in epsilons]
    functions = {name: get_attack(name) for name in attacks}
    if not functions or not epsilons:
        raise ValueError("attack_report needs at least one attack and one epsilon")
    if max_examples is not None and max_examples < 1:
        raise ValueError(f"max_examples must be a positive integer or None, got {max_examples!r}")
    correct = {name: np.zeros(len(epsilons)) for name in functions}
    hits = {name: np.zeros(len(epsilons)) for name in functions}
    clean_correct = total = 0
    for images, labels in _batches(dataset, max_examples):
        if not total:
            predict, attacked = _compile(model, functions, epsilons, pixel_range, images.shape)
        truth = labels.numpy()
        clean, target = (t.numpy() for t in predict(images))
        clean_correct += int(np.sum(clean == truth))
        total += len(truth)
        for name in functions:
            for i, epsilon in enumerate(epsilons):
                predicted = attacked[name, epsilon](images, labels).numpy()
                correct[name][i] += np.sum(predicted == truth)
                hits[name][i] += np.sum(predicted == target)
    if total == 0:
        raise ValueError("attack_report: the dataset holds no examples")
    rows = {
        name: [
            {
                "epsilon": epsilon,
                "accuracy": float(correct[name][i] / total),
                "least_likely_rate": float(hits[name][i] / total),
            }
            for i, epsilon in enumerate(epsilons)
        ]
        for name in functions
    }
    return {
        "num_examples": total,
        "epsilons": epsilons,
        "pixel_range": list(pixel_range),
        "clean_accuracy": clean_correct / total,
        "attacks": rows,
    }


def adversarial_examples(
    model: keras.Model,
    images,
    labels,
    epsilon: float,
    attacks: Sequence[str],
    pixel_range: tuple[float, float] = PIXEL_RANGE,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The adversarial images of each attack at one ``epsilon`` and the model's predictions:
    ``({name: float32 images}, {"clean" or name: predicted classes})``."""
    images = tf.cast(images, tf.float32)
    adversarial = {
        name: get_attack(name)(model, images, labels, epsilon, pixel_range=pixel_range).numpy()
        for name in attacks
    }
    predictions = {"clean": _predict(model, images).numpy()}
    predictions.update({name: _predict(model, x).numpy() for name, x in adversarial.items()})
    return adversarial, predictions


def format_report(report: dict) -> str:
    """Two small text tables: accuracy, and the rate of predicting the clean least-likely
    class, one row per epsilon and one column per attack."""
    names = list(report["attacks"])
    width = max(14, *(len(n) + 2 for n in names))
    lines = [
        f"{report['num_examples']} test examples, clean accuracy {report['clean_accuracy']:.4f}"
    ]
    for key, title in (
        ("accuracy", "accuracy"),
        ("least_likely_rate", "predicted = clean least-likely class"),
    ):
        lines += ["", title, f"{'epsilon':>8}" + "".join(f"{n:>{width}}" for n in names)]
        for i, epsilon in enumerate(report["epsilons"]):
            cells = "".join(f"{report['attacks'][n][i][key]:>{width}.4f}" for n in names)
            lines.append(f"{epsilon:>8g}{cells}")
    return "\n".join(lines)


def write_report(out_dir: str, report: dict) -> dict[str, str]:
    """Writes ``report.json`` and ``accuracy_vs_epsilon.png`` into ``out_dir``, each file
    atomically. Returns ``{file name: path}``."""
    from yeehaw_tf.attacks.pictures import plot_accuracy_vs_epsilon

    paths = {name: os.path.join(out_dir, name) for name in (REPORT_FILE, CURVES_FILE)}
    atomic_write_text(paths[REPORT_FILE], json.dumps(report, indent=2) + "\n")
    plot_accuracy_vs_epsilon(paths[CURVES_FILE], report)
    return paths
