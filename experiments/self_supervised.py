"""Every self-supervised method on one encoder, one dataset, one budget and one probe.

    python -m experiments.self_supervised [--epochs 60] [--methods rotation,jigsaw,...]
                                          [--seed 0]

For each method it runs

    python train.py --task=self_supervised --method=METHOD --epochs=EPOCHS --seed=S \\
        --workdir=W/METHOD

(``digits`` resized to 32x32 and tinted radially; the ``small_resnet`` trunk with widths
16, 32, 64, or ``vit_tiny`` for mae; batch 64, Adam 3e-3 with a cosine schedule), then reads
the run's linear and kNN (k=20, cosine) probe accuracies on the labelled splits. The baselines
are the same encoders with random weights (probed without training) and the ``supervised``
method (the encoder trained on the labels with the same budget). Expected: docs/self_supervised.md.
"""

from __future__ import annotations

import argparse
import json
import os

from experiments.common import markdown, train, write
from yeehaw_tf.training.tasks.self_supervised.options import METHODS


def random_baseline(method: str, data_dir: str | None) -> dict:
    """The probes of ``method``'s encoder with its initial (random) weights."""
    import keras

    from yeehaw_tf.training.tasks.self_supervised import SelfSupervisedOptions, SelfSupervisedTask
    from yeehaw_tf.training.tasks.self_supervised.probing import probe_task_model

    keras.utils.set_random_seed(0)
    options = SelfSupervisedOptions(method=method)
    data = SelfSupervisedTask.load_data(options, data_dir)
    task = SelfSupervisedTask.from_data(options, data)
    model = task.inference_model(task.build_models())
    return probe_task_model(task, model, data)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.self_supervised")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default="runs/experiments/self_supervised")
    args = parser.parse_args(argv)
    results = {}
    for name, method in (("random small_resnet", "rotation"), ("random vit_tiny", "mae")):
        results[name] = {"probe": random_baseline(method, args.data_dir), "encoder": method}
    for method in args.methods.split(","):
        workdir = os.path.join(args.out, method)
        summary = train(
            workdir,
            task="self_supervised",
            method=method,
            epochs=args.epochs,
            seed=args.seed,
            data_dir=args.data_dir,
        )
        with open(os.path.join(workdir, "probe.json")) as f:
            probe = json.load(f)
        results[method] = {
            "probe": probe,
            "pretext_accuracy": summary["test"].get("pretext_accuracy"),
            "loss": summary["test"].get("loss"),
            "train_seconds": summary["train_seconds"],
            "steps": summary["steps"],
        }
    random_linear = results["random small_resnet"]["probe"]["linear_probe"]
    rows = []
    for name, r in results.items():
        p = r["probe"]
        pretext = r.get("pretext_accuracy")
        rows.append(
            [
                name,
                f"{p['linear_probe']:.3f}",
                f"{p['knn']:.3f}",
                f"{100 * (p['linear_probe'] - random_linear):+.1f}",
                "" if pretext is None else f"{pretext:.3f}",
                "" if "train_seconds" not in r else f"{r['train_seconds']:.0f}",
            ]
        )
    header = [
        "method",
        "linear probe",
        "kNN (k=20)",
        "vs random ResNet (points)",
        "pretext test accuracy",
        "train s",
    ]
    write(args.out, "self_supervised", markdown(header, rows), results)


if __name__ == "__main__":
    main()
