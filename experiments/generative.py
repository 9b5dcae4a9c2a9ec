"""Every GAN loss on one generator/critic pair, one dataset and one budget; the VAE and DDPM/DDIM
beside them; scored by the same inception score and FID (our digits scorer).

    python -m experiments.generative [--epochs 600] [--losses minimax,non_saturating,...]
                                     [--skip_diffusion] [--seed 0]

For each loss it runs

    python train.py --task=gan --loss=LOSS --epochs=EPOCHS --workdir=W/gan_LOSS

(the DCGAN pair of width 32 on ``digits``, latent 64, batch 64, each loss with its paper's
optimizer, critic steps, clipping, penalty or spectral norm), then ``--task=vae`` and
``--task=diffusion`` at their defaults, and reads each run's ``scores.json``: the inception
score and FID of 1,000 generated images, the real data's reference (IS of the test split, FID
train vs test), and for the GANs the critic's empirical Lipschitz constant. It also measures
why the non-saturating loss exists: :func:`generator_gradients` trains the discriminator
against the generator at its initial weights and, every few steps, takes the generator's
gradient norm under both generator losses on the same latents. Expected: docs/generative.md.
"""

from __future__ import annotations

import argparse
import json
import os

from experiments.common import markdown, train, train_curve, write
from yeehaw_tf.losses.gan import LOSS_NAMES

GAN_ROWS = {
    "minimax": "minimax (saturating)",
    "non_saturating": "non-saturating",
    "wgan": "WGAN, weight clipping",
    "wgan_gp": "WGAN-GP",
    "hinge": "hinge + spectral norm",
}


def _scores(workdir: str) -> dict:
    with open(os.path.join(workdir, "scores.json")) as f:
        return json.load(f)


def generator_gradients(steps: int = 1000, every: int = 20, seed: int = 0) -> dict:
    """Arjovsky & Bottou (2017, fig. 2)'s measurement on our pair: the generator is held at its
    initial weights while the discriminator trains against it (as it does early in training,
    when it learns faster than the generator); every ``every`` steps, the generator's gradient
    norm under the saturating ``log(1 - D(G(z)))`` and the non-saturating ``-log D(G(z))``, on
    the same latents, and D's mean probability on generated images.

    Returns ``{"step", "saturating", "non_saturating", "d_fake"}``."""
    import keras
    import tensorflow as tf

    from yeehaw_tf.data.datasets import load_classification
    from yeehaw_tf.losses import gan
    from yeehaw_tf.models.generative.dcgan import dcgan_discriminator, dcgan_generator
    from yeehaw_tf.training.tasks.generative.data import image_pipeline

    keras.utils.set_random_seed(seed)
    data = load_classification("digits")
    images = iter(image_pipeline(data.train, 64, True, seed))
    generator, critic = dcgan_generator(64, (8, 8, 1)), dcgan_discriminator((8, 8, 1))
    d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)

    @tf.function
    def critic_step(real, z):
        fake = generator(z, training=False)
        with tf.GradientTape() as tape:
            d_loss = tf.reduce_mean(
                gan.discriminator_loss("non_saturating", critic(real), critic(fake))
            )
        grads = tape.gradient(d_loss, critic.trainable_variables)
        d_opt.apply_gradients(zip(grads, critic.trainable_variables, strict=True))

    @tf.function
    def norms(z):
        out = {}
        for name in ("minimax", "non_saturating"):
            with tf.GradientTape() as tape:
                scores = critic(generator(z, training=False))
                loss = tf.reduce_mean(gan.generator_loss(name, scores))
            grads = tape.gradient(loss, generator.trainable_variables)
            out[name] = tf.linalg.global_norm(grads)
        out["d_fake"] = tf.reduce_mean(tf.sigmoid(scores))
        return out

    probe = tf.random.stateless_normal([256, 64], [seed, 99])
    result = {"step": [], "saturating": [], "non_saturating": [], "d_fake": []}
    for step in range(steps + 1):
        if step % every == 0:
            measured = norms(probe)
            result["step"].append(step)
            result["saturating"].append(float(measured["minimax"]))
            result["non_saturating"].append(float(measured["non_saturating"]))
            result["d_fake"].append(float(measured["d_fake"]))
        critic_step(next(images), tf.random.stateless_normal([64, 64], [seed, step]))
    return result


def training_seconds(workdir: str) -> float:
    """The run's training time from its TensorBoard log: the steps of each logged interval at
    that interval's steps/s (so a resumed or re-evaluated run reports its training)."""
    import numpy as np

    steps, speeds = train_curve(workdir, "steps_per_second")
    if not len(steps):
        return float("nan")
    intervals = np.diff(np.concatenate([[0], steps]))
    return float(np.sum(intervals / speeds))


def make_table(results: dict, out: str) -> str:
    runs = {k: v for k, v in results.items() if isinstance(v, dict) and "scores" in v}
    reference = next(iter(runs.values()))["reference"]
    rows = [
        [
            "real data (test split; FID train vs test)",
            f"{reference['test_inception_score']:.3f}",
            f"{reference['train_test_fid']:.3f}",
            "",
            "",
        ]
    ]
    for label, result in runs.items():
        scores = result["scores"]
        flat = {"": scores} if "fid" in scores else scores
        for sampler, s in flat.items():
            name = label if not sampler else f"{label}: {sampler}"
            lipschitz = result.get("lipschitz", {}).get("max")
            rows.append(
                [
                    name,
                    f"{s['inception_score']:.3f}",
                    f"{s['fid']:.3f}",
                    "" if lipschitz is None else f"{lipschitz:.3f}",
                    f"{training_seconds(result['workdir']):.0f}",
                ]
            )
    table = markdown(["model", "IS (ours)", "FID (ours)", "critic Lipschitz", "train s"], rows)
    return table


def plot_gradients(result: dict, path: str) -> str:
    from yeehaw_tf.analysis.figures import new_figure, save_figure

    plt, fig, axes = new_figure(1, 2, (9, 3.5))
    ax = axes[0, 0]
    ax.semilogy(result["step"], result["saturating"], label="saturating log(1 - D(G(z)))")
    ax.semilogy(result["step"], result["non_saturating"], label="non-saturating -log D(G(z))")
    ax.set_xlabel("discriminator steps (generator held at its initial weights)")
    ax.set_ylabel("generator gradient norm")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    ax.plot(result["step"], result["d_fake"])
    ax.set_xlabel("discriminator steps")
    ax.set_ylabel("mean D(G(z))")
    ax.set_yscale("log")
    fig.tight_layout()
    return save_figure(plt, fig, path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.generative")
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--losses", default=",".join(LOSS_NAMES))
    parser.add_argument("--skip_diffusion", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default="runs/experiments/generative")
    parser.add_argument("--figures", default="docs/images")
    parser.add_argument(
        "--table_only", action="store_true", help="rewrite the table from OUT/generative.json"
    )
    parser.add_argument(
        "--gradients_only", action="store_true", help="only the generator-gradient measurement"
    )
    args = parser.parse_args(argv)
    if args.gradients_only:
        gradients = generator_gradients(seed=args.seed)
        os.makedirs(args.figures, exist_ok=True)
        plot_gradients(gradients, os.path.join(args.figures, "gan_generator_gradients.png"))
        path = os.path.join(args.out, "generative.json")
        results = json.load(open(path)) if os.path.exists(path) else {}
        results["generator_gradients"] = gradients
        write(args.out, "generative", make_table(results, args.out), results)
        return
    if args.table_only:
        with open(os.path.join(args.out, "generative.json")) as f:
            results = json.load(f)
        write(args.out, "generative", make_table(results, args.out), results)
        return
    results = {}
    for loss in args.losses.split(","):
        workdir = os.path.join(args.out, f"gan_{loss}")
        train(
            workdir,
            task="gan",
            loss=loss,
            epochs=args.epochs,
            seed=args.seed,
            data_dir=args.data_dir,
        )
        results[GAN_ROWS[loss]] = {**_scores(workdir), "workdir": workdir}
    runs = [("VAE", "vae")] + ([] if args.skip_diffusion else [("DDPM / DDIM", "diffusion")])
    for label, task in runs:
        workdir = os.path.join(args.out, task)
        train(workdir, task=task, seed=args.seed, data_dir=args.data_dir)
        results[label] = {**_scores(workdir), "workdir": workdir}
    gradients = generator_gradients(seed=args.seed)
    results["generator_gradients"] = gradients
    os.makedirs(args.figures, exist_ok=True)
    plot_gradients(gradients, os.path.join(args.figures, "gan_generator_gradients.png"))
    copy_pictures(args.out, args.figures)
    write(args.out, "generative", make_table(results, args.out), results)


# (run workdir, picture in it) -> docs/images name
PICTURES = {
    ("diffusion", "scores_vs_steps.png"): "diffusion_scores_vs_steps.png",
    ("diffusion", "samples/forward_reverse.png"): "diffusion_forward_reverse.png",
    ("diffusion", "samples/final.png"): "diffusion_samples.png",
    ("gan_wgan_gp", "samples/final.png"): "gan_wgan_gp_samples.png",
    ("vae", "samples/reconstructions.png"): "vae_reconstructions.png",
}


def copy_pictures(out: str, figures: str) -> None:
    """The runs' pictures the docs show, copied to ``figures`` (those of runs made)."""
    import shutil

    for (run, name), target in PICTURES.items():
        source = os.path.join(out, run, name)
        if os.path.exists(source):
            shutil.copyfile(source, os.path.join(figures, target))


if __name__ == "__main__":
    main()
