"""Augmentation in a small-data setting: a tenth of digits' training split (the first 14
examples of each class, 140 in all), the main job's model, each policy at the same budget,
3 seeds; the test split is the full one.

    python -m experiments.augmentation [--seeds 0,1,2] [--epochs 100]
        [--policies none,crop,geometric,erasing,mixup,cutmix]

Each run is ``python train.py --train_examples_per_class=14 --batch_size=32 --epochs=E
--augment=P --seed=S``. Flips are left out: they change digits. Results:
docs/training_techniques.md.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from experiments.common import accuracy, markdown, mean_std, train, write


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.augmentation")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--per_class", type=int, default=14)
    parser.add_argument("--policies", default="none,crop,geometric,erasing,mixup,cutmix")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default="runs/experiments/augmentation")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for policy in args.policies.split(","):
        results[policy] = [
            accuracy(
                train(
                    os.path.join(args.out, f"{policy}_{seed}"),
                    train_examples_per_class=args.per_class,
                    batch_size=32,
                    epochs=args.epochs,
                    augment=policy,
                    seed=seed,
                    data_dir=args.data_dir,
                )
            )
            for seed in seeds
        ]
    base = np.mean(results["none"]) if "none" in results else float("nan")
    rows = [
        [f"--augment={p}", mean_std(a), f"{100 * (np.mean(a) - base):+.1f}"]
        for p, a in results.items()
    ]
    header = [f"digits, {args.per_class} training examples per class", "test accuracy", "vs none"]
    table = markdown(header, rows)
    table += (
        f"\n\nsmall_resnet, {args.epochs} epochs of batch 32, Adam 3e-3 cosine, the full test "
        f"split (360), seeds {args.seeds}."
    )
    write(args.out, "augmentation", table, {**results, "args": vars(args)})


if __name__ == "__main__":
    main()
