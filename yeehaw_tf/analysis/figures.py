"""Matplotlib figures for the PNGs the package writes: the Agg backend (no display), and saving
through a temporary file and a rename, so a picture is never half-written."""

from __future__ import annotations

from yeehaw_tf.atomic import atomic_file


def new_figure(rows: int, cols: int, size: tuple[float, float]):
    """``(pyplot, figure, axes [rows, cols])`` on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(rows, cols, figsize=size, squeeze=False)


def save_figure(plt, fig, path: str) -> str:
    """Writes ``fig`` to ``path`` as a PNG (atomically), closes it and returns ``path``."""
    try:
        with atomic_file(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
    return path
