"""Transfer learning on digits: pre-train on classes 0-4, transfer to 5-9 with ten labelled
examples per class; from scratch vs frozen features vs fine-tuning, at one budget, 3 seeds.

    python -m experiments.transfer [--seeds 0,1,2] [--epochs 20] [--learning_rate 0.03]
                                   [--source_augment geometric]

The commands it runs (per seed S):

    python train.py --classes=0,1,2,3,4 --augment=geometric --seed=S --workdir=W/source_S
    python train.py --classes=5,6,7,8,9 --train_examples_per_class=10 --batch_size=10 \\
        --epochs=20 --learning_rate=0.03 --seed=S \\
        [--init_from=W/source_S --freeze=backbone [--unfreeze_step=50]]

Every method trains on the target with the same command but for the transfer flags (same
budget, learning rate and schedule); the source's pre-training uses augmentation, as
pre-training recipes do.

Fine-tuning trains the new head alone for the first half of the run (``--unfreeze_step``),
then every layer at a tenth of the learning rate. Expected (20 epochs, Adam 3e-3 cosine): see
docs/training_techniques.md.
"""

from __future__ import annotations

import argparse
import os

from experiments.common import accuracy, markdown, mean_std, train, write

TARGET = {"classes": (5, 6, 7, 8, 9), "train_examples_per_class": 10, "batch_size": 10}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.transfer")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--learning_rate", type=float, default=0.03)
    parser.add_argument("--source_augment", default="geometric")
    parser.add_argument("--model", default="small_resnet")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default="runs/experiments/transfer")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = args.epochs * 50 // TARGET["batch_size"]
    methods = {  # name -> (workdir prefix, options)
        "from scratch": ("from", {}),
        "frozen features (--freeze=backbone)": ("frozen", {"freeze": "backbone"}),
        "fine-tuning (head, then all at 0.1x)": (
            "fine-tuning",
            {"freeze": "backbone", "unfreeze_step": steps // 2},
        ),
        "fine-tuning all layers from the start": ("all", {"freeze": "none"}),
    }
    common = {"model": args.model, "data_dir": args.data_dir}
    results = {name: [] for name in methods}
    source_acc = []
    for seed in seeds:
        source = os.path.join(args.out, f"source_{seed}")
        source_acc.append(
            accuracy(
                train(
                    source,
                    classes=(0, 1, 2, 3, 4),
                    augment=args.source_augment,
                    seed=seed,
                    **common,
                )
            )
        )
        for name, (prefix, options) in methods.items():
            if options:
                options = {**options, "init_from": source}
            workdir = os.path.join(args.out, f"{prefix}_{len(results[name])}_{seed}")
            summary = train(
                workdir,
                seed=seed,
                epochs=args.epochs,
                learning_rate=args.learning_rate,
                **TARGET,
                **common,
                **options,
            )
            results[name].append(accuracy(summary))
    scratch = sum(results["from scratch"]) / len(seeds)
    rows = [
        [name, mean_std(accs), f"{100 * (sum(accs) / len(accs) - scratch):+.1f}"]
        for name, accs in results.items()
    ]
    header = ["digits 5-9, 10 labelled examples per class", "test accuracy", "vs scratch (pts)"]
    table = markdown(header, rows)
    table += (
        f"\n\nSource (digits 0-4, full training split, --augment={args.source_augment}): test "
        f"accuracy {mean_std(source_acc)}; "
        f"{args.model}, {args.epochs} epochs ({steps} steps of 10), learning rate "
        f"{args.learning_rate}, seeds {args.seeds}."
    )
    write(args.out, "transfer", table, {"source": source_acc, **results, "args": vars(args)})


if __name__ == "__main__":
    main()
