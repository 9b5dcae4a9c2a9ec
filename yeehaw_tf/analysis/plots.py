"""Pictures of the curriculum's functions, written as PNG files (matplotlib, no display)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from yeehaw_tf.analysis.figures import new_figure, save_figure
from yeehaw_tf.atomic import atomic_file
from yeehaw_tf.layers import activations


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
    plt, fig, axes = new_figure(2, 3, (12, 7))
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
    return save_figure(plt, fig, path)


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
    plt, fig, axes = new_figure(1, 1, (10, 5.5))
    ax = axes[0, 0]
    for name, schedule in curves.items():
        ax.plot(x, [float(schedule(int(t))) for t in x], label=name, linewidth=1.6)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title("Learning-rate schedules")
    ax.legend()
    fig.tight_layout()
    return save_figure(plt, fig, path)


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
    plt, fig, axes = new_figure(1, 2, (14, 6))
    for ax, (problem, (steps, optimizers)) in zip(axes[0], runs.items(), strict=True):
        fn, start, minimum = PROBLEMS[problem]
        x0, x1, y0, y1 = (-9, 9, -3, 3) if problem == "quadratic" else (-2, 2, -1, 3)
        gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        ax.contour(
            gx,
            gy,
            fn(np.stack([gx, gy])),
            levels=np.logspace(-2, 3.5, 20),
            colors="0.7",
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
    return save_figure(plt, fig, path)


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
    plt, fig, axes = new_figure(len(images), 3, (7.5, 2.5 * len(images)))
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
    return save_figure(plt, fig, path)


def _instance_colours(count: int) -> np.ndarray:
    """``count`` colours ``[count, 3]`` uint8, cycling through matplotlib's ``tab10``."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return np.round(np.asarray([cmap(i % 10)[:3] for i in range(count)]) * 255).astype(np.uint8)


def _check_detections(image, boxes, classes, scores, masks, class_names, options):
    """Validates ``draw_detections``' inputs; returns them as arrays (image as RGB, masks as
    booleans or None)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(
            "draw_detections: image must be uint8 [H, W, 3] or [H, W, 1], got "
            f"{image.dtype} {image.shape}"
        )
    height, width = image.shape[:2]
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"draw_detections: boxes must be [N, 4], got {boxes.shape}")
    count = len(boxes)
    classes, scores = np.asarray(classes), np.asarray(scores, dtype=np.float64)
    if classes.shape != (count,) or scores.shape != (count,):
        raise ValueError(
            f"draw_detections: classes and scores must be [N] with N = {count} boxes, got "
            f"{classes.shape} and {scores.shape}"
        )
    if count and (
        not np.issubdtype(classes.dtype, np.number)
        or np.any(classes != np.round(classes))
        or classes.min() < 0
    ):
        raise ValueError(f"draw_detections: classes must be integers >= 0, got {classes}")
    classes = classes.astype(np.int64)
    if class_names is not None and count and classes.max() >= len(class_names):
        raise ValueError(
            f"draw_detections: class {classes.max()} has no name in class_names "
            f"({len(class_names)} names)"
        )
    if not (np.all(np.isfinite(boxes)) and np.all(np.isfinite(scores))):
        raise ValueError("draw_detections: boxes and scores must be finite")
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape != (count, height, width):
            raise ValueError(
                f"draw_detections: masks must be [N, H, W] = {(count, height, width)}, got "
                f"{masks.shape}"
            )
        masks = masks if masks.dtype == bool else masks > 0.5
    line_width, mask_alpha, score_threshold = options
    if isinstance(line_width, bool) or not isinstance(line_width, int) or line_width < 1:
        raise ValueError(f"draw_detections: line_width must be an int >= 1, got {line_width!r}")
    if not 0.0 <= mask_alpha <= 1.0:
        raise ValueError(f"draw_detections: mask_alpha must be in [0, 1], got {mask_alpha!r}")
    if not np.isfinite(score_threshold):
        raise ValueError(
            f"draw_detections: score_threshold must be a finite number, got {score_threshold!r}"
        )
    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image.copy()
    return rgb, boxes, classes, scores, masks


def _draw_box(out: np.ndarray, left: int, top: int, right: int, bottom: int, colour, width: int):
    """Paints the outline of the pixel rectangle ``[left, right] x [top, bottom]`` (inclusive),
    ``width`` pixels thick inwards; the parts outside the image are not drawn."""
    height, image_width = out.shape[:2]

    def paint(y0, y1, x0, x1):  # half-open ranges, clipped to the image
        y0, y1, x0, x1 = max(y0, 0), min(y1, height), max(x0, 0), min(x1, image_width)
        if y0 < y1 and x0 < x1:
            out[y0:y1, x0:x1] = colour

    paint(top, top + width, left, right + 1)
    paint(bottom - width + 1, bottom + 1, left, right + 1)
    paint(top, bottom + 1, left, left + width)
    paint(top, bottom + 1, right - width + 1, right + 1)


def draw_detections(
    image: np.ndarray,
    boxes: np.ndarray,
    classes: np.ndarray,
    scores: np.ndarray,
    masks: np.ndarray | None = None,
    class_names: tuple[str, ...] | None = None,
    path: str | None = None,
    score_threshold: float = 0.0,
    box_format: str = "xyxy",
    line_width: int = 2,
    mask_alpha: float = 0.5,
) -> np.ndarray:
    """Draws detections on ``image`` at its own resolution: each instance's mask (if given),
    box outline and label ``"name score"`` in one colour per instance (``tab10``, cycling).

    Args:
        image: uint8 ``[H, W, 3]`` or ``[H, W, 1]`` (grey, drawn as RGB); not modified.
        boxes: ``[N, 4]`` in ``box_format`` (any of ``yeehaw_tf.ops.ALL_FORMATS``; absolute
            pixel coordinates, or relative ones with a ``rel_`` prefix). As in
            ``yeehaw_tf.ops``, ``x2``/``y2`` are far edges: ``(0, 0, 10, 10)`` covers pixels
            0..9. The outline is drawn ``line_width`` pixels thick inside the box.
        classes: ``[N]`` integer class ids; ``scores``: ``[N]``.
        masks: optional ``[N, H, W]`` instance masks, boolean or probabilities (``> 0.5``);
            each is alpha-blended with ``mask_alpha`` over its own pixels only.
        class_names: names indexed by class id; without them labels show the id.
        path: if given, the result is also written there as a PNG (atomically).
        score_threshold: detections with ``score < score_threshold`` are not drawn.

    Detections are drawn in increasing score order, so the best ends on top. Labels sit above
    their box (inside it when the box touches the image's top). Returns the annotated image,
    uint8 ``[H, W, 3]``.
    """
    from PIL import Image, ImageDraw, ImageFont

    from yeehaw_tf.ops import convert_boxes

    options = (line_width, mask_alpha, score_threshold)
    out, boxes, classes, scores, masks = _check_detections(
        image, boxes, classes, scores, masks, class_names, options
    )
    height, width = out.shape[:2]
    xyxy = convert_boxes(boxes, box_format, "xyxy", height=height, width=width).numpy()
    colours = _instance_colours(len(boxes))
    keep = np.flatnonzero(scores >= score_threshold)
    order = keep[np.argsort(scores[keep], kind="stable")]
    for i in order if masks is not None else ():
        blended = (1.0 - mask_alpha) * out[masks[i]] + mask_alpha * colours[i].astype(np.float64)
        out[masks[i]] = np.round(blended).astype(np.uint8)
    corners = {}
    for i in order:
        x1, y1, x2, y2 = (int(np.round(v)) for v in xyxy[i])
        x2, y2 = max(x2 - 1, x1), max(y2 - 1, y1)  # the last pixel column and row inside
        if x2 >= 0 and y2 >= 0 and x1 < width and y1 < height:  # some of it is visible
            corners[i] = (x1, y1, x2, y2)
            _draw_box(out, *corners[i], colours[i], line_width)
    picture = Image.fromarray(out)
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default()
    for i in corners:
        name = class_names[classes[i]] if class_names is not None else str(classes[i])
        text = f"{name} {scores[i]:.2f}"
        _, _, text_width, text_height = draw.textbbox((0, 0), text, font=font)
        left, top = corners[i][:2]
        label_top = top - text_height - 2 if top - text_height - 2 >= 0 else max(top, 0)
        label_left = max(min(left, width - text_width - 3), 0)
        colour = tuple(int(c) for c in colours[i])
        draw.rectangle(
            (label_left, label_top, label_left + text_width + 2, label_top + text_height + 1),
            fill=colour,
        )
        luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
        draw.text((label_left + 1, label_top), text, fill=ink, font=font)
    out = np.asarray(picture).copy()
    if path is not None:
        with atomic_file(path, suffix=".png") as tmp:
            Image.fromarray(out).save(tmp, format="PNG")
    return out


def plot_detections(
    path: str,
    images: np.ndarray,
    ground_truth: list,
    detections: list,
    class_names: tuple[str, ...] = (),
    min_score: float = 0.3,
) -> str:
    """A grid of test images, each enlarged to about 256 pixels, with its detections scoring at
    least ``min_score`` drawn by :func:`draw_detections` and its ground-truth boxes dashed.
    ``ground_truth`` / ``detections``: per image ``{"boxes": xyxy pixels, "classes"[,
    "scores"][, "masks": [n, H, W] image masks]}``. Writes a PNG (atomically) and returns
    ``path``."""
    images = np.asarray(images)
    if images.ndim != 4 or len(ground_truth) != len(images) or len(detections) != len(images):
        raise ValueError(
            "plot_detections: images must be [N, H, W, C] with one ground-truth and one "
            f"detection entry each; got {images.shape}, {len(ground_truth)}, {len(detections)}"
        )
    import matplotlib.patches as mpatches

    zoom = max(1, 256 // max(images.shape[1:3]))
    cols = min(len(images), 3)
    rows = -(-len(images) // cols)
    plt, fig, axes = new_figure(rows, cols, (3.2 * cols, 3.2 * rows))
    for ax in axes.ravel():
        ax.set_axis_off()
    for i, image in enumerate(images):
        found = detections[i]
        big = np.repeat(np.repeat(image, zoom, axis=0), zoom, axis=1)
        masks = found.get("masks")
        if masks is not None:
            masks = np.repeat(np.repeat(np.asarray(masks), zoom, axis=1), zoom, axis=2)
        drawn = draw_detections(
            big,
            np.asarray(found["boxes"], np.float32).reshape(-1, 4) * zoom,
            np.asarray(found["classes"]),
            np.asarray(found["scores"]),
            masks=masks,
            class_names=tuple(class_names) or None,
            score_threshold=min_score,
        )
        ax = axes[i // cols, i % cols]
        ax.imshow(drawn)
        for x1, y1, x2, y2 in np.asarray(ground_truth[i]["boxes"]).reshape(-1, 4) * zoom:
            ax.add_patch(
                mpatches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ls="--", ec="white")
            )
    fig.tight_layout()
    return save_figure(plt, fig, path)
