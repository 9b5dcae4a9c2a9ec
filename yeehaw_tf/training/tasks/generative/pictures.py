"""PNG pictures of generated images: grids and strips, pixel-exact (nearest-neighbour
enlargement, no interpolation), written atomically."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from yeehaw_tf.atomic import atomic_file


def image_grid(images: np.ndarray, columns: int, scale: int = 4, gap: int = 1) -> np.ndarray:
    """uint8 ``[N, H, W, C]`` -> one uint8 ``[rows * (H*scale + gap), ...]`` picture, each image
    enlarged ``scale`` times, separated by ``gap`` white pixels."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 [N, H, W, C], got {images.dtype} {images.shape}")
    n, h, w, c = images.shape
    rows = -(-n // columns)
    big = images.repeat(scale, axis=1).repeat(scale, axis=2)
    cell_h, cell_w = h * scale + gap, w * scale + gap
    grid = np.full((rows * cell_h + gap, columns * cell_w + gap, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = gap + r * cell_h, gap + col * cell_w
        grid[top : top + h * scale, left : left + w * scale] = big[i]
    return grid


def write_png(path: str, image: np.ndarray) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    content = tf.io.encode_png(tf.constant(image)).numpy()
    with atomic_file(path, suffix=".png") as tmp, open(tmp, "wb") as f:
        f.write(content)
    return path


def write_grid(path: str, images: np.ndarray, columns: int = 8, scale: int = 4) -> str:
    return write_png(path, image_grid(images, columns, scale))
