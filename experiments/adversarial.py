"""Adversarial training on digits (Goodfellow et al. 2015): the main job's model trained as
usual and with ``--adversarial_training=fgsm``, each attacked on the test split with FGSM,
iterative FGSM (BIM) and the iterative least-likely-class attack, 3 seeds.

    python -m experiments.adversarial [--seeds 0,1,2] [--epsilon 32] [--epsilons 0,8,16,32,48]

Runs ``python train.py --seed=S`` and ``python train.py --seed=S --adversarial_training=fgsm
--adversarial_epsilon=EPS``, then the same attacks as ``python -m yeehaw_tf.attacks --workdir
W``. Epsilons are in pixel units of the raw 0..255 images (digits has 17 grey levels, 16 apart).
Results: docs/training_techniques.md.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from experiments.common import markdown, mean_std, train, write

ATTACKS = ("fgsm", "iterative_fgsm", "least_likely")


def attacked(workdir: str, epsilons, data_dir) -> dict:
    from yeehaw_tf.attacks import attack_report
    from yeehaw_tf.training.runs import load_run

    run = load_run(workdir)
    data = run.task.load_data(run.task.options, data_dir)
    return attack_report(run.model, run.task.eval_dataset(data, 120), epsilons, ATTACKS)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.adversarial")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epsilon", type=float, default=32.0, help="adversarial training's")
    parser.add_argument("--epsilons", default="8,16,32,48", help="the attacks'")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default="runs/experiments/adversarial")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    epsilons = [float(e) for e in args.epsilons.split(",")]
    models = {
        "undefended": {},
        f"adversarially trained (FGSM, eps {args.epsilon:g})": {
            "adversarial_training": "fgsm",
            "adversarial_epsilon": args.epsilon,
        },
    }
    results = {}
    for i, (name, options) in enumerate(models.items()):
        reports = []
        for seed in seeds:
            workdir = os.path.join(args.out, f"model{i}_{seed}")
            train(workdir, seed=seed, data_dir=args.data_dir, **options)
            reports.append(attacked(workdir, epsilons, args.data_dir))
        results[name] = reports
    header = ["model", "attack", "clean", *[f"eps {e:g}" for e in epsilons]]
    rows = []
    for name, reports in results.items():
        clean = mean_std([r["clean_accuracy"] for r in reports])
        for attack in ATTACKS:
            cells = [
                mean_std([r["attacks"][attack][j]["accuracy"] for r in reports])
                for j in range(len(epsilons))
            ]
            rows.append([name, attack, clean, *cells])
    table = markdown(header, rows)
    gains = []
    names = list(results)
    for j, epsilon in enumerate(epsilons):
        for attack in ATTACKS:
            plain, robust = (
                np.mean([r["attacks"][attack][j]["accuracy"] for r in results[n]]) for n in names
            )
            gains.append(f"{attack} eps {epsilon:g}: {100 * (robust - plain):+.1f} pts")
    table += "\n\nRobust accuracy gained: " + "; ".join(gains) + f". Seeds {args.seeds}."
    write(args.out, "adversarial", table, {**results, "args": vars(args)})


if __name__ == "__main__":
    main()
