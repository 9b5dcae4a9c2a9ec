"""Why zero-centering helps a saturating non-linearity: an MLP with sigmoid and with ReLU
units trained on digits with uncentred inputs (x / 255, all positive) and centred ones (the
training split's per-channel mean, or its mean image, subtracted; same 1/255 scale), by plain
SGD so the optimizer does not rescale the gradients, 3 seeds.

    python -m experiments.centering [--seeds 0,1,2] [--epochs 30] [--learning_rate 0.1]

Each run is ``python train.py --model=mlp --activation=A --preprocessing=P --optimizer=sgd
--learning_rate=LR --lr_schedule=constant --epochs=E --seed=S``. Writes the table and
``centering_loss.png`` (training loss against step, mean over seeds). Results: see
docs/training_techniques.md.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from experiments.common import accuracy, markdown, mean_std, train, train_curve, write

ACTIVATIONS = ("sigmoid", "relu")
PREPROCESSING = ("none", "channel_mean", "mean_image", "channel_standardize")


def plot(path: str, curves: dict) -> None:
    from yeehaw_tf.analysis.figures import new_figure, save_figure

    plt, fig, axes = new_figure(1, len(ACTIVATIONS), (11, 4))
    for ax, activation in zip(np.ravel(axes), ACTIVATIONS, strict=True):
        for kind in PREPROCESSING:
            steps, values = curves[(activation, kind)]
            ax.plot(steps, values, label=f"--preprocessing={kind}")
        ax.set_title(f"mlp, {activation} units, plain SGD")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        ax.legend()
    save_figure(plt, fig, path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.centering")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default="runs/experiments/centering")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, curves, results = [], {}, {}
    for activation in ACTIVATIONS:
        for kind in PREPROCESSING:
            accs, losses, runs = [], [], []
            for seed in seeds:
                workdir = os.path.join(args.out, f"{activation}_{kind}_{seed}")
                summary = train(
                    workdir,
                    model="mlp",
                    activation=activation,
                    preprocessing=kind,
                    optimizer="sgd",
                    learning_rate=args.learning_rate,
                    lr_schedule="constant",
                    epochs=args.epochs,
                    seed=seed,
                    steps_per_loop=5,
                    data_dir=args.data_dir,
                )
                accs.append(accuracy(summary))
                runs.append(train_curve(workdir))
                losses.append(float(runs[-1][1][-1]))  # the last logged interval's
            steps = runs[0][0]
            curves[(activation, kind)] = (steps, np.mean([v for _, v in runs], axis=0))
            early = int(np.searchsorted(steps, steps[-1] // 10))
            results[f"{activation}/{kind}"] = {"accuracy": accs, "final_train_loss": losses}
            rows.append(
                [
                    activation,
                    kind,
                    f"{curves[(activation, kind)][1][early]:.3f}",
                    f"{np.mean(losses):.4f}",
                    mean_std(accs),
                ]
            )
    header = ["units", "--preprocessing", "train loss at 10%", "final train loss", "test accuracy"]
    table = markdown(header, rows)
    table += (
        f"\n\nmlp (256-256), plain SGD at {args.learning_rate} (constant), {args.epochs} epochs "
        f"of batch 64, seeds {args.seeds}; loss curves: centering_loss.png."
    )
    plot(os.path.join(args.out, "centering_loss.png"), curves)
    write(args.out, "centering", table, {**results, "args": vars(args)})


if __name__ == "__main__":
    main()
