"""The attacks report's two pictures: accuracy against epsilon, and a grid of examples.

Matplotlib with the Agg backend (no display); each PNG is written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from yeehaw_tf.analysis.figures import new_figure, save_figure


def plot_accuracy_vs_epsilon(path: str, report: Mapping) -> str:
    """One curve per attack of ``report`` (:func:`yeehaw_tf.attacks.report.attack_report`):
    test accuracy against epsilon in pixel units, with the least-likely-class hit rate of each
    attack dashed. Returns ``path``."""
    plt, fig, axes = new_figure(1, 1, (7.5, 4.8))
    ax = axes[0, 0]
    epsilons = report["epsilons"]
    for index, (name, rows) in enumerate(report["attacks"].items()):
        colour = f"C{index}"
        ax.plot(epsilons, [r["accuracy"] for r in rows], "o-", color=colour, label=name)
        ax.plot(
            epsilons,
            [r["least_likely_rate"] for r in rows],
            ":",
            color=colour,
            label=f"{name}: predicts y_LL",
        )
    positive = [e for e in epsilons if e > 0]
    if positive and len(positive) > 2 and max(positive) / min(positive) >= 8:
        ax.set_xscale("symlog", linthresh=min(positive))
        ax.set_xticks(epsilons)
        ax.set_xticklabels([f"{e:g}" for e in epsilons])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("epsilon (pixel units of 0..255)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Accuracy under attack ({report['num_examples']} test examples)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(plt, fig, path)


def _shown(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    image = np.clip(image, 0, 255).astype(np.uint8)
    return (image[..., 0], "gray") if image.shape[-1] == 1 else (image, None)


def plot_examples(
    path: str,
    images: np.ndarray,
    labels: np.ndarray,
    adversarial: Mapping[str, np.ndarray],
    predictions: Mapping[str, np.ndarray],
    epsilon: float,
    class_names: Sequence[str] = (),
) -> str:
    """One row per example: the clean image, then for each attack its adversarial image and
    the perturbation (amplified to the full grey range, mid-grey = 0), titled with the
    predicted class.

    ``images``: ``[N, H, W, C]`` pixels 0..255 (C 1 or 3); ``labels``: ``[N]``;
    ``adversarial``: ``{attack: [N, H, W, C]}``; ``predictions``: ``{"clean" or attack:
    [N]}`` predicted classes (:func:`yeehaw_tf.attacks.report.adversarial_examples`).
    Returns ``path``.
    """
    images, labels = np.asarray(images, np.float64), np.asarray(labels)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or labels.shape != images.shape[:1]:
        raise ValueError(
            "plot_examples: images must be [N, H, W, C] with C 1 or 3 and labels [N]; got "
            f"{images.shape} and {labels.shape}"
        )
    name = (lambda k: class_names[k]) if class_names else str
    gain = 127.5 / epsilon if epsilon > 0 else 1.0
    cols = 1 + 2 * len(adversarial)
    height = 1.6 * len(images) + 0.8
    plt, fig, axes = new_figure(len(images), cols, (1.45 * cols, height))
    for row, image in enumerate(images):
        cells = [(image, "clean", predictions["clean"][row])]
        for attack, batch in adversarial.items():
            perturbation = 127.5 + gain * (np.asarray(batch[row], np.float64) - image)
            cells += [
                (batch[row], attack, predictions[attack][row]),
                (perturbation, "perturbation", None),
            ]
        for ax, (picture, heading, predicted) in zip(axes[row], cells, strict=True):
            shown, cmap = _shown(np.asarray(picture, np.float64))
            ax.imshow(shown, cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.text(
                    0.5,
                    1.25,
                    heading,
                    transform=ax.transAxes,
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
            if predicted is not None:
                wrong = predicted != labels[row]
                ax.set_title(name(int(predicted)), fontsize=8, color="red" if wrong else "black")
    fig.suptitle(
        f"Clean, adversarial and perturbation (x{gain:.3g}, grey = 0) at epsilon {epsilon:g}; "
        "titles: predicted class (red: wrong)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.55 / height))  # room for the column headings
    return save_figure(plt, fig, path)
