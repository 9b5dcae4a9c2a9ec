"""``python -m yeehaw_tf.attacks``: a trained classifier's test accuracy under gradient-sign
attacks (FGSM, iterative FGSM, iterative least-likely class) at several epsilons.

Reads the run in ``--workdir`` (its record and latest checkpoint), attacks its test split and
writes ``report.json``, ``accuracy_vs_epsilon.png`` and ``examples.png`` to
``WORKDIR/attacks/`` (or ``--out``), each file atomically, then prints the accuracy table.
Exits 1 with a one-line error when the workdir holds no classification run, 2 on bad flags.
Here rather than in ``yeehaw_tf.attacks`` because only ``yeehaw_tf.cli`` and
``yeehaw_tf.training`` may read runs (``tests/test_layering.py``); the attacks stay usable
without the training package.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

DEFAULT_EPSILONS = "0,1,2,4,8,16,32"


def _numbers(text: str, kind, flag: str, parser: argparse.ArgumentParser) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        parser.error(f"{flag} takes comma-separated numbers, got {text!r}")
    if not values:
        parser.error(f"{flag} needs at least one value, got {text!r}")
    return values


def build_parser(attack_names: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m yeehaw_tf.attacks",
        description="Test accuracy of a trained classifier under adversarial attacks.",
    )
    parser.add_argument("--workdir", required=True, help="the run's workdir (as given to train.py)")
    parser.add_argument(
        "--epsilons",
        default=DEFAULT_EPSILONS,
        help=f"comma-separated perturbation sizes, pixel units of 0..255 ({DEFAULT_EPSILONS})",
    )
    parser.add_argument(
        "--attacks",
        default=",".join(attack_names),
        help=f"comma-separated attacks, of: {', '.join(attack_names)} (default: all)",
    )
    parser.add_argument("--data_dir", default=None, help="TFDS data directory (default: the run's)")
    parser.add_argument("--max_examples", type=int, default=None, help="attack only the first N")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--out", default=None, help="output directory (default WORKDIR/attacks)")
    parser.add_argument(
        "--example_epsilon",
        type=float,
        default=None,
        help="epsilon of examples.png (default: the largest of --epsilons)",
    )
    parser.add_argument(
        "--num_shown", type=int, default=6, help="test examples in examples.png (default 6)"
    )
    return parser


def load_classifier_run(workdir: str):
    """The run in ``workdir``; a run of another task is refused (the attacks need a model
    from images to class logits)."""
    from yeehaw_tf.training.runs import load_run
    from yeehaw_tf.training.tasks import ClassificationTask

    run = load_run(workdir)
    if not isinstance(run.task, ClassificationTask):
        raise ValueError(
            f"{workdir} holds a {run.task.name!r} run; the attacks need a "
            f"{ClassificationTask.name!r} run (a model from images to class logits)"
        )
    return run


def _first_examples(dataset, count: int):
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
        if sum(len(x) for x in labels) >= count:
            break
    return np.concatenate(images)[:count], np.concatenate(labels)[:count]


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from yeehaw_tf.attacks import (
        PIXEL_RANGE,
        adversarial_examples,
        attack_names,
        attack_report,
        format_report,
    )
    from yeehaw_tf.attacks.arguments import check_epsilon
    from yeehaw_tf.attacks.pictures import plot_examples
    from yeehaw_tf.attacks.report import EXAMPLES_FILE, write_report

    parser = build_parser(attack_names())
    args = parser.parse_args(argv)
    epsilons = _numbers(args.epsilons, float, "--epsilons", parser)
    attacks = [a.strip() for a in args.attacks.split(",") if a.strip()]
    unknown = [a for a in attacks if a not in attack_names()]
    if unknown or not attacks:
        parser.error(f"--attacks: unknown {unknown or attacks}; valid: {', '.join(attack_names())}")
    for flag in ("max_examples", "batch_size", "num_shown"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag} must be a positive integer, got {value}")
    if args.example_epsilon is None:
        args.example_epsilon = max(epsilons)
    for epsilon in (*epsilons, args.example_epsilon):
        try:
            check_epsilon(epsilon, PIXEL_RANGE)
        except ValueError as e:
            parser.error(f"--epsilons / --example_epsilon: {e}")
    out = args.out or os.path.join(args.workdir, "attacks")
    try:
        run = load_classifier_run(args.workdir)
        task = run.task
        data = task.load_data(task.options, args.data_dir or run.record["train"].get("data_dir"))
        dataset = task.eval_dataset(data, args.batch_size)
        report = attack_report(run.model, dataset, epsilons, attacks, args.max_examples)
        images, labels = _first_examples(dataset, args.num_shown)
        adversarial, predictions = adversarial_examples(
            run.model, images, labels, args.example_epsilon, attacks
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"attacks: error: {e}", file=sys.stderr)
        return 1
    report["run"] = {
        "workdir": os.path.abspath(args.workdir),
        "checkpoint": run.checkpoint,
        "model": task.options.model,
        "dataset": task.options.dataset,
    }
    paths = write_report(out, report)
    paths[EXAMPLES_FILE] = plot_examples(
        os.path.join(out, EXAMPLES_FILE),
        images,
        labels,
        adversarial,
        predictions,
        args.example_epsilon,
        class_names=task.class_names,
    )
    print(format_report(report))
    print("\nwrote " + ", ".join(paths.values()))
    return 0
