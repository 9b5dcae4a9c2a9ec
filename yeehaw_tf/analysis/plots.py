"""Pictures of the curriculum's functions, written as PNG files (matplotlib, no display)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from yeehaw_tf.atomic import atomic_file
from yeehaw_tf.layers import activations


def _figure(rows: int, cols: int, size: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(rows, cols, figsize=size, squeeze=False)


def _save(plt, fig, path: str) -> str:
    """Saves through a temporary file and a rename, so ``path`` is never half-written."""
    try:
        with atomic_file(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
    return path


def plot_activations(path: str, x_range: tuple[float, float] = (-4.0, 4.0)) -> str:
    """Each activation function of the notes (and its derivative) on ``x_range``; one panel per
    function. Maxout is shown as the max of two lines, ``max(x, 0.1 x)`` (leaky ReLU's shape)
    and ``max(x, -0.5 x)``. Returns ``path``."""
    x = tf.constant(np.linspace(*x_range, 401), tf.float32)
    functions = {
        "sigmoid": activations.sigmoid,
        "tanh": activations.tanh,
        "ReLU": activations.relu,
        "leaky ReLU (0.1)": lambda t: activations.leaky_relu(t, 0.1),
        "ELU (alpha=1)": activations.elu,
        "maxout max(x, -0.5x)": lambda t: tf.maximum(t, -0.5 * t),
    }
    plt, fig, axes = _figure(2, 3, (12, 7))
    for ax, (name, fn) in zip(axes.ravel(), functions.items(), strict=True):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        dy = tape.gradient(y, x)
        ax.plot(x.numpy(), y.numpy(), label="f(x)", linewidth=2)
        ax.plot(x.numpy(), dy.numpy(), "--", label="f'(x)")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_title(name)
        ax.legend(loc="upper left")
    fig.suptitle("Activation functions and their derivatives")
    fig.tight_layout()
    return _save(plt, fig, path)


def plot_schedules(path: str, steps: int = 1000, peak: float = 0.1) -> str:
    """Every learning-rate schedule of ``yeehaw_tf.optimizers.schedules`` over a run of
    ``steps`` steps, on one plot. Returns ``path``."""
    from yeehaw_tf.optimizers import schedules as s

    curves = {
        "step (at 40%, 80%)": s.StepDecay(
            [int(steps * 0.4), int(steps * 0.8)], [peak, peak / 10, peak / 100]
        ),
        "exponential": s.ExponentialDecay(peak, steps // 4, 0.5),
        "inverse time": s.InverseTimeDecay(peak, steps // 10, 1.0),
        "inverse sqrt (warmup 10%)": s.InverseSqrtDecay(peak, steps // 10),
        "linear": s.LinearDecay(peak, steps),
        "cosine": s.CosineDecay(peak, steps),
        "cosine, warmup 10%": s.CosineDecay(peak, steps - steps // 10, warmup_steps=steps // 10),
        "cosine restarts": s.CosineDecay(peak, steps // 7, restarts=True, t_mul=2.0, m_mul=0.8),
    }
    x = np.arange(steps)
    plt, fig, axes = _figure(1, 1, (10, 5.5))
    ax = axes[0, 0]
    for name, schedule in curves.items():
        ax.plot(x, [float(schedule(int(t))) for t in x], label=name, linewidth=1.6)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title("Learning-rate schedules")
    ax.legend()
    fig.tight_layout()
    return _save(plt, fig, path)


def plot_optimizer_paths(path: str) -> str:
    """Each optimizer's path from the same start on an ill-conditioned quadratic and on the
    Rosenbrock function, over the functions' contours. Returns ``path``."""
    from yeehaw_tf import optimizers as o
    from yeehaw_tf.analysis.optimizer_paths import PROBLEMS, optimize

    runs = {
        "quadratic": (
            60,
            {
                "SGD": o.SGD(0.03),
                "momentum": o.SGD(0.03, momentum=0.9),
                "Nesterov": o.SGD(0.03, momentum=0.9, nesterov=True),
                "AdaGrad": o.AdaGrad(1.0),
                "RMSProp": o.RMSProp(0.1),
                "Adam": o.Adam(0.3),
            },
        ),
        "rosenbrock": (
            2000,
            {
                "SGD": o.SGD(1e-3),
                "momentum": o.SGD(1e-3, momentum=0.9),
                "Nesterov": o.SGD(1e-3, momentum=0.9, nesterov=True),
                "AdaGrad": o.AdaGrad(0.5),
                "RMSProp": o.RMSProp(0.01),
                "Adam": o.Adam(0.02),
            },
        ),
    }
    plt, fig, axes = _figure(1, 2, (14, 6))
    for ax, (problem, (steps, optimizers)) in zip(axes[0], runs.items(), strict=True):
        fn, start, minimum = PROBLEMS[problem]
        x0, x1, y0, y1 = (-9, 9, -3, 3) if problem == "quadratic" else (-2, 2, -1, 3)
        gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        ax.contour(
            gx,
            gy,
            fn(np.stack([gx, gy])),
            levels=np.logspace(-2, 3.5, 20),
            cmap="Greys",
            linewidths=0.6,
        )
        for name, optimizer in optimizers.items():
            trail, _ = optimize(optimizer, fn, start, steps)
            ax.plot(trail[:, 0], trail[:, 1], label=name, linewidth=1.3)
        ax.plot(*minimum, "k*", markersize=12)
        ax.plot(*start, "ko")
        ax.set_title(f"{problem} ({steps} steps)")
        ax.legend(loc="lower right" if problem == "rosenbrock" else "upper right")
    fig.tight_layout()
    return _save(plt, fig, path)


def _class_colours(num_classes: int) -> np.ndarray:
    """A fixed palette: black for class 0 (background), distinct colours after it."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    colours = [(0.0, 0.0, 0.0)] + [cmap(i % 10)[:3] for i in range(max(num_classes - 1, 0))]
    return (np.asarray(colours) * 255).astype(np.uint8)


def plot_segmentation(
    path: str,
    images: np.ndarray,
    masks: np.ndarray,
    predictions: np.ndarray,
    class_names: tuple[str, ...] | None = None,
) -> str:
    """One row per image: the image, its ground-truth class map and the predicted one.

    ``images``: uint8 ``[N, H, W, C]`` (C 1 or 3); ``masks``, ``predictions``: integer class
    maps ``[N, H, W]``. Writes a PNG to ``path`` (atomically) and returns ``path``.
    """
    images, masks, predictions = np.asarray(images), np.asarray(masks), np.asarray(predictions)
    if images.ndim != 4 or masks.shape != images.shape[:3] or predictions.shape != masks.shape:
        raise ValueError(
            "plot_segmentation: images must be [N, H, W, C] and masks and predictions [N, H, W]; "
            f"got {images.shape}, {masks.shape}, {predictions.shape}"
        )
    num_classes = int(max(masks.max(initial=0), predictions.max(initial=0))) + 1
    if class_names:
        num_classes = max(num_classes, len(class_names))
    palette = _class_colours(num_classes)
    plt, fig, axes = _figure(len(images), 3, (7.5, 2.5 * len(images)))
    for row, (image, mask, prediction) in enumerate(zip(images, masks, predictions, strict=True)):
        shown = image[..., 0] if image.shape[-1] == 1 else image
        for col, (picture, title) in enumerate(
            ((shown, "image"), (palette[mask], "ground truth"), (palette[prediction], "prediction"))
        ):
            axes[row, col].imshow(picture, cmap="gray" if picture.ndim == 2 else None)
            axes[row, col].set_axis_off()
            if row == 0:
                axes[row, col].set_title(title)
    if class_names:
        import matplotlib.patches as mpatches

        handles = [
            mpatches.Patch(color=palette[i] / 255.0, label=name)
            for i, name in enumerate(class_names)
        ]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.04 if class_names else 0, 1, 1))
    return _save(plt, fig, path)
