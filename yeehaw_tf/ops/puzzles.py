"""Pretext geometry for self-supervised learning, as batched tensor ops whose randomness is
passed in (the caller draws it from the step's stateless randomness):

- rotation prediction (Gidaris, Singh & Komodakis 2018, "Unsupervised Representation Learning
  by Predicting Image Rotations"): :func:`rotate_images`;
- jigsaw puzzles (Noroozi & Favaro 2016, "Unsupervised Learning of Visual Representations by
  Solving Jigsaw Puzzles"): :func:`jigsaw_permutations` (their Algorithm 1),
  :func:`jigsaw_tiles`;
- relative patch position (Doersch, Gupta & Efros 2015, "Unsupervised Visual Representation
  Learning by Context Prediction"): :func:`context_positions`, :func:`context_pairs`.

Every crop is one batched ``tf.gather_nd`` over index grids built from per-example corners, so
the ops run inside a ``tf.function`` (and under XLA) with a different offset per example.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import tensorflow as tf

# Doersch et al.'s neighbour order: (row, column) of neighbour k on the 3x3 grid whose centre
# is (1, 1): 0 top-left, 1 top, 2 top-right, 3 left, 4 right, 5 bottom-left, 6 bottom,
# 7 bottom-right.
NEIGHBOURS = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2))
CRITERIA = ("min", "mean")  # jigsaw_permutations: the distance of a candidate to the chosen set


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_images(images) -> tf.Tensor:
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or images.shape[1] is None or images.shape[2] is None:
        raise ValueError(
            f"images must be [B, H, W, C] with a static height and width, got {images.shape}"
        )
    return images


def _gather_pixels(images: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor) -> tf.Tensor:
    """``images[b, rows[b, ...], cols[b, ...]]``: ``rows`` and ``cols`` int32 ``[B, ...]``
    (broadcast against each other) -> ``[B, ..., C]``."""
    rows, cols = rows + tf.zeros_like(cols), cols + tf.zeros_like(rows)
    return tf.gather_nd(images, tf.stack([rows, cols], axis=-1), batch_dims=1)


def _crops(images: tf.Tensor, corners: tf.Tensor, size: int) -> tf.Tensor:
    """``size x size`` crops at ``corners [B, T, 2]`` (top-left ``(y, x)``, int32) ->
    ``[B, T, size, size, C]``."""
    steps = tf.range(size, dtype=tf.int32)
    rows = corners[:, :, 0, None, None] + steps[:, None]  # [B, T, size, 1]
    cols = corners[:, :, 1, None, None] + steps[None, :]  # [B, T, 1, size]
    return _gather_pixels(images, rows, cols)


# --- rotation -------------------------------------------------------------------------------


def rotate_images(images, k) -> tf.Tensor:
    """Example ``i`` of square ``images [B, S, S, C]`` turned ``k[i] * 90`` degrees
    counter-clockwise, as ``np.rot90(images[i], k[i], axes=(0, 1))`` (Gidaris et al. 2018).

    ``k``: int ``[B]``, taken modulo 4. Output pixel ``(i, j)`` reads, for ``k`` = 0, 1, 2, 3,
    ``(i, j)``, ``(j, S-1-i)``, ``(S-1-i, S-1-j)``, ``(S-1-j, i)``: one gather for the batch.
    """
    images = _check_images(images)
    size = images.shape[1]
    if images.shape[2] != size:
        raise ValueError(f"images must be square [B, S, S, C] to rotate, got {images.shape}")
    k = tf.convert_to_tensor(k)
    if k.shape.rank != 1 or not k.dtype.is_integer:
        raise ValueError(f"k must be an integer vector [B], got {k.dtype.name} {k.shape}")
    k = tf.math.floormod(tf.cast(k, tf.int32), 4)[:, None, None]  # [B, 1, 1]
    i = tf.range(size, dtype=tf.int32)[:, None]  # output row
    j = tf.range(size, dtype=tf.int32)[None, :]  # output column
    last = size - 1
    rows = tf.where(k == 0, i, tf.where(k == 1, j, tf.where(k == 2, last - i, last - j)))
    cols = tf.where(k == 0, j, tf.where(k == 1, last - i, tf.where(k == 2, last - j, i)))
    return _gather_pixels(images, rows, cols)


# --- jigsaw ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _all_permutations(num_tiles: int) -> np.ndarray:
    every = np.array(list(itertools.permutations(range(num_tiles))), np.uint8)
    every.flags.writeable = False
    return every


def hamming_distances(perms) -> np.ndarray:
    """``[n, n]`` int: the number of positions at which permutations ``i`` and ``j`` differ."""
    perms = np.asarray(perms)
    if perms.ndim != 2:
        raise ValueError(f"perms must be [n, num_tiles], got shape {perms.shape}")
    return (perms[:, None, :] != perms[None, :, :]).sum(axis=-1)


def jigsaw_permutations(
    n: int, num_tiles: int = 9, seed: int = 0, *, criterion: str = "min"
) -> np.ndarray:
    """``[n, num_tiles]`` int32 permutations of ``0..num_tiles-1`` far apart in Hamming
    distance: the classes of the jigsaw task (Noroozi & Favaro 2016, Algorithm 1).

    Greedy, over all ``num_tiles!`` permutations: start from one drawn at random; then, until
    ``n`` are chosen, add the candidate farthest from the chosen set ``P``. Algorithm 1 scores a
    candidate ``q`` by its summed (average) distance ``sum_{p in P} d(p, q)``
    (``criterion="mean"``); the default ``criterion="min"`` scores it by ``min_{p in P} d(p, q)``
    (max-min), which maximises the set's smallest pairwise distance (the average can add a
    near-duplicate of a chosen permutation if it is far from the others). Ties go to the
    earliest candidate in a ``seed``-shuffled order, so the set is deterministic for
    ``(n, num_tiles, seed, criterion)``.

    One step updates the score of every candidate with one vectorised comparison against the
    newest choice (``O(num_tiles! * num_tiles)``); 1000 of the 9! = 362880 permutations take
    seconds. ``num_tiles`` is at most 10 (10! candidates, 36 MB).
    """
    n = _check_int(n, "n", 1)
    num_tiles = _check_int(num_tiles, "num_tiles", 2)
    if num_tiles > 10:
        raise ValueError(f"num_tiles must be in 2..10 (all num_tiles! are scored), got {num_tiles}")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    total = len(_all_permutations(num_tiles))
    if n > total:
        raise ValueError(f"n={n} exceeds the {total} permutations of {num_tiles} tiles")
    order = np.random.default_rng(seed).permutation(total)  # decides the start and the ties
    candidates = _all_permutations(num_tiles)[order]  # [P, T]
    columns = np.ascontiguousarray(candidates.T)  # [T, P]: one fast row per position

    def distances(index: int) -> np.ndarray:
        d = np.zeros(total, np.int32)
        for position in range(num_tiles):
            d += columns[position] != columns[position, index]
        return d

    chosen = [0]
    score = distances(0)
    for _ in range(n - 1):
        score[chosen[-1]] = -1  # never chosen twice (a "mean" score stays positive)
        best = int(np.argmax(score))
        chosen.append(best)
        new = distances(best)
        score = np.minimum(score, new) if criterion == "min" else score + new
    return candidates[chosen].astype(np.int32)


def jigsaw_cell_size(image_size: int, grid: int = 3) -> int:
    """The side of each of the ``grid x grid`` cells of an image side of ``image_size`` pixels:
    ``image_size // grid`` (the remainder at the bottom and right is unused)."""
    image_size = _check_int(image_size, "image_size", 1)
    grid = _check_int(grid, "grid", 1)
    if image_size < grid:
        raise ValueError(f"image_size={image_size} has no room for {grid}x{grid} cells")
    return image_size // grid


def jigsaw_tiles(images, permutation, offsets, grid: int = 3, tile_size: int | None = None):
    """The shuffled tiles of a jigsaw puzzle (Noroozi & Favaro 2016, section 3.2).

    The image is cut into ``grid x grid`` cells of ``jigsaw_cell_size(H, grid) x
    jigsaw_cell_size(W, grid)`` pixels, numbered row-major from the top-left. Cell ``c`` gives
    a ``tile_size`` square crop at ``(dy, dx) = offsets[b, c]`` inside the cell; a tile smaller
    than its cell leaves a random gap between neighbouring tiles (the paper's 64-pixel tiles in
    75-pixel cells), so that edges and textures running across do not give the answer away.

    Args:
        images: ``[B, H, W, C]`` with a static height and width.
        permutation: int ``[B, grid * grid]``; output slot ``j`` holds the tile of cell
            ``permutation[b, j]``.
        offsets: int ``[B, grid * grid, 2]``, each in ``[0, cell - tile_size]``, indexed by
            cell (not by slot); values outside are clipped into it, so a tile never leaves its
            cell.
        grid: cells per side.
        tile_size: side of each tile, at most the cell's; ``None``: the whole cell.

    Returns:
        ``[B, grid * grid, tile_size, tile_size, C]``, ``images``' dtype.
    """
    images = _check_images(images)
    grid = _check_int(grid, "grid", 1)
    cell_h = jigsaw_cell_size(images.shape[1], grid)
    cell_w = jigsaw_cell_size(images.shape[2], grid)
    if tile_size is None:
        tile_size = min(cell_h, cell_w)
    tile_size = _check_int(tile_size, "tile_size", 1)
    if tile_size > min(cell_h, cell_w):
        raise ValueError(
            f"tile_size={tile_size} exceeds the cell ({cell_h}x{cell_w} pixels: the images' "
            f"{images.shape[1]}x{images.shape[2]} over a {grid}x{grid} grid)"
        )
    tiles = grid * grid
    permutation = tf.convert_to_tensor(permutation)
    offsets = tf.convert_to_tensor(offsets)
    if permutation.shape.rank != 2 or permutation.shape[1] not in (None, tiles):
        raise ValueError(f"permutation must be [B, {tiles}], got {permutation.shape}")
    if offsets.shape.rank != 3 or offsets.shape[1] not in (None, tiles) or offsets.shape[2] != 2:
        raise ValueError(f"offsets must be [B, {tiles}, 2] (dy, dx), got {offsets.shape}")
    origins = np.array([(r * cell_h, c * cell_w) for r in range(grid) for c in range(grid)])
    room = tf.constant([cell_h - tile_size, cell_w - tile_size], tf.int32)
    jitter = tf.clip_by_value(tf.cast(offsets, tf.int32), 0, room)  # [B, T, 2] by cell
    permutation = tf.cast(permutation, tf.int32)
    corners = tf.gather(tf.constant(origins, tf.int32), permutation) + tf.gather(
        jitter, permutation, batch_dims=1
    )  # [B, T, 2] by slot
    return _crops(images, corners, tile_size)


# --- context prediction ---------------------------------------------------------------------


def _pair(size, name: str) -> tuple[int, int]:
    if isinstance(size, tuple | list):
        if len(size) != 2:
            raise ValueError(f"{name} must be an integer or (height, width), got {size!r}")
        return _check_int(size[0], name, 1), _check_int(size[1], name, 1)
    size = _check_int(size, name, 1)
    return size, size


def context_positions(image_size, patch_size: int, gap: int, max_jitter: int = 0) -> np.ndarray:
    """``[9, 2]`` int32 top-left corners ``(y, x)`` of Doersch et al.'s 3x3 grid of patches.

    Row 0 is the centre patch, rows 1..8 its neighbours 0..7 in :data:`NEIGHBOURS` order (0
    top-left, 1 top, 2 top-right, 3 left, 4 right, 5 bottom-left, 6 bottom, 7 bottom-right).
    ``patch_size`` squares with ``gap`` pixels between them (the paper: 96-pixel patches,
    48-pixel gaps, up to 7 pixels of jitter) span ``3 * patch_size + 2 * gap`` pixels, laid
    centred in the image: neighbour ``(r, c)`` sits at ``centre + (r - 1, c - 1) * (patch_size
    + gap)``. With ``max_jitter``, every patch can move that far each way and stay inside.

    Args:
        image_size: the image side, or ``(height, width)``.
        patch_size, gap, max_jitter: pixels.

    Raises:
        ValueError: if ``3 * patch_size + 2 * gap + 2 * max_jitter`` exceeds the image.
    """
    height, width = _pair(image_size, "image_size")
    patch_size = _check_int(patch_size, "patch_size", 1)
    gap = _check_int(gap, "gap", 0)
    max_jitter = _check_int(max_jitter, "max_jitter", 0)
    span = 3 * patch_size + 2 * gap
    needed = span + 2 * max_jitter
    if needed > min(height, width):
        raise ValueError(
            f"context patches of {patch_size} pixels with gap {gap} and jitter {max_jitter} need "
            f"{needed} pixels (3 * patch_size + 2 * gap + 2 * max_jitter); the image has "
            f"{height}x{width}"
        )
    top, left = (height - span) // 2, (width - span) // 2
    step = patch_size + gap
    cells = [(1, 1), *NEIGHBOURS]
    return np.array([(top + r * step, left + c * step) for r, c in cells], np.int32)


def context_pairs(images, neighbour, jitter, patch_size: int, gap: int, max_jitter: int):
    """Doersch et al.'s pairs: ``(centre patches, neighbour patches)``, each
    ``[B, patch_size, patch_size, C]``.

    Args:
        images: ``[B, H, W, C]`` with a static height and width.
        neighbour: int ``[B]`` in 0..7, which neighbour (the label, :data:`NEIGHBOURS` order).
        jitter: int ``[B, 2, 2]``: ``jitter[b, 0]`` moves the centre patch and
            ``jitter[b, 1]`` the neighbour by ``(dy, dx)``, clipped to
            ``[-max_jitter, max_jitter]`` (so the crops stay inside the image).
        patch_size, gap, max_jitter: as :func:`context_positions`, which places the grid.
    """
    images = _check_images(images)
    positions = context_positions((images.shape[1], images.shape[2]), patch_size, gap, max_jitter)
    neighbour = tf.convert_to_tensor(neighbour)
    jitter = tf.convert_to_tensor(jitter)
    if neighbour.shape.rank != 1 or not neighbour.dtype.is_integer:
        raise ValueError(f"neighbour must be an integer vector [B], got {neighbour.shape}")
    if jitter.shape.rank != 3 or jitter.shape[1] not in (None, 2) or jitter.shape[2] != 2:
        raise ValueError(f"jitter must be [B, 2, 2] ((dy, dx) per patch), got {jitter.shape}")
    positions = tf.constant(positions)
    jitter = tf.clip_by_value(tf.cast(jitter, tf.int32), -max_jitter, max_jitter)
    centre = positions[0][None] + jitter[:, 0]
    other = tf.gather(positions, tf.cast(neighbour, tf.int32) + 1) + jitter[:, 1]
    patches = _crops(images, tf.stack([centre, other], axis=1), patch_size)
    return patches[:, 0], patches[:, 1]
