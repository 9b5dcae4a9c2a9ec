"""Pretext geometry: rotations (Gidaris et al. 2018), jigsaw puzzles (Noroozi & Favaro 2016)
and relative patch positions (Doersch et al. 2015), as batched tensor ops whose randomness is
passed in (drawn by the caller from the step's stateless randomness)."""

from __future__ import annotations

import itertools

import numpy as np
import tensorflow as tf

# Doersch et al.'s neighbour order: (row, column) of neighbour k on the 3x3 grid around the
# centre (1, 1).
NEIGHBOURS = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2))


def rotate_images(images: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
    """Example ``i`` of square ``images [B, S, S, C]`` turned ``k[i] * 90`` degrees
    counter-clockwise (``np.rot90(image, k, axes=(0, 1))``)."""
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or images.shape[1] != images.shape[2]:
        raise ValueError(f"rotate_images: images must be square [B, S, S, C], got {images.shape}")
    k = tf.reshape(tf.cast(k, tf.int32) % 4, [-1, 1, 1, 1])
    turned = images
    result = tf.zeros_like(images)
    for quarter in range(4):
        result = tf.where(tf.equal(k, quarter), turned, result)
        turned = tf.reverse(tf.transpose(turned, [0, 2, 1, 3]), [1])  # one more quarter turn
    return result


def hamming_distances(permutations: np.ndarray) -> np.ndarray:
    """``[n, n]`` number of positions at which permutations ``i`` and ``j`` differ."""
    p = np.asarray(permutations)
    return (p[:, None, :] != p[None, :, :]).sum(axis=-1)


def jigsaw_permutations(n: int, num_tiles: int = 9, seed: int = 0) -> np.ndarray:
    """``[n, num_tiles]`` permutations chosen for maximal Hamming distance.

    Noroozi & Favaro's Algorithm 1, greedy: start from a random permutation, then repeatedly
    add the permutation whose distance to the chosen set is largest. We take that distance as
    the *minimum* over the chosen set (max-min: it guarantees every pair differs in at least
    the final minimum number of positions; the paper's average can pick near-duplicates), with
    ties broken by the seeded random order. Deterministic for ``(n, num_tiles, seed)``.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"jigsaw_permutations: n must be a positive integer, got {n!r}")
    if not isinstance(num_tiles, int) or not 2 <= num_tiles <= 9:
        raise ValueError(f"jigsaw_permutations: num_tiles must be in 2..9, got {num_tiles!r}")
    every = np.array(list(itertools.permutations(range(num_tiles))), np.int8)
    if n > len(every):
        raise ValueError(f"jigsaw_permutations: n={n} exceeds the {len(every)} permutations")
    rng = np.random.default_rng(seed)
    every = every[rng.permutation(len(every))]  # the seed decides ties
    chosen = [0]
    nearest = (every != every[0]).sum(axis=1)  # distance of each to the chosen set
    for _ in range(n - 1):
        best = int(np.argmax(nearest))
        chosen.append(best)
        nearest = np.minimum(nearest, (every != every[best]).sum(axis=1))
    return every[chosen].astype(np.int32)


def jigsaw_cell_size(image_size: int, grid: int = 3) -> int:
    """The side of each of the ``grid x grid`` cells of an image (the remainder is unused)."""
    cell = int(image_size) // int(grid)
    if cell < 1:
        raise ValueError(f"an image of {image_size} pixels has no room for {grid}x{grid} cells")
    return cell


def _crops(images, corners, size: int):
    """``images [B, H, W, C]``, ``corners [B, T, 2]`` int32 -> ``[B, T, size, size, C]``."""
    steps = tf.range(size, dtype=tf.int32)
    rows = corners[..., 0, None] + steps  # [B, T, size]
    cols = corners[..., 1, None] + steps
    batch = tf.shape(corners)[0]
    tiles = tf.shape(corners)[1]
    b = tf.broadcast_to(tf.range(batch)[:, None, None, None], [batch, tiles, size, size])
    y = tf.broadcast_to(rows[:, :, :, None], [batch, tiles, size, size])
    x = tf.broadcast_to(cols[:, :, None, :], [batch, tiles, size, size])
    return tf.gather_nd(images, tf.stack([b, y, x], axis=-1))


def jigsaw_tiles(images, permutation, offsets, grid: int = 3, tile_size: int = 9) -> tf.Tensor:
    """The shuffled tiles of a jigsaw puzzle.

    Args:
        images: ``[B, H, W, C]``; cells are ``H // grid`` pixels square, row-major.
        permutation: ``[B, grid * grid]`` int; output slot ``j`` holds the tile of cell
            ``permutation[b, j]``.
        offsets: ``[B, grid * grid, 2]`` int ``(dy, dx)`` of each cell's tile inside the cell, in
            ``[0, cell - tile_size]`` (the jitter; ``tile_size < cell`` leaves gaps).
        tile_size: side of each tile.

    Returns ``[B, grid * grid, tile_size, tile_size, C]``.
    """
    images = tf.convert_to_tensor(images)
    cell = jigsaw_cell_size(images.shape[1], grid)
    if tile_size > cell:
        raise ValueError(f"jigsaw_tiles: tile_size={tile_size} exceeds the cell size {cell}")
    origins = np.array([(r * cell, c * cell) for r in range(grid) for c in range(grid)], np.int32)
    permutation = tf.cast(permutation, tf.int32)
    corners = tf.gather(tf.constant(origins), permutation) + tf.gather(
        tf.cast(offsets, tf.int32), permutation, batch_dims=1
    )
    return _crops(images, corners, tile_size)


def context_positions(
    image_size: int, patch_size: int, gap: int, max_jitter: int = 0
) -> np.ndarray:
    """``[9, 2]`` top-left corners ``(y, x)``: row 0 the centre patch, rows 1..8 its neighbours
    in :data:`NEIGHBOURS` order (top-left, top, top-right, left, right, bottom-left, bottom,
    bottom-right), on a 3x3 grid with ``gap`` pixels between patches, centred in the image with
    room for ``max_jitter`` pixels of movement each way."""
    span = 3 * patch_size + 2 * gap
    if patch_size < 1 or gap < 0 or max_jitter < 0 or span + 2 * max_jitter > image_size:
        raise ValueError(
            f"context patches of {patch_size} pixels with gap {gap} and jitter {max_jitter} need "
            f"{span + 2 * max_jitter} pixels; the image has {image_size}"
        )
    start = (image_size - span) // 2
    step = patch_size + gap
    grid = [(1, 1), *NEIGHBOURS]
    return np.array([(start + r * step, start + c * step) for r, c in grid], np.int32)


def context_pairs(images, neighbour, jitter, patch_size: int, gap: int, max_jitter: int):
    """``(centre patches, neighbour patches)``, each ``[B, patch, patch, C]``.

    ``neighbour [B]`` in 0..7 picks the neighbour; ``jitter [B, 2, 2]`` moves the centre
    (``[:, 0]``) and the neighbour (``[:, 1]``) by ``(dy, dx)`` in ``[-max_jitter,
    max_jitter]``."""
    images = tf.convert_to_tensor(images)
    positions = tf.constant(context_positions(images.shape[1], patch_size, gap, max_jitter))
    jitter = tf.clip_by_value(tf.cast(jitter, tf.int32), -max_jitter, max_jitter)
    centre = positions[0][None] + jitter[:, 0]
    other = tf.gather(positions, tf.cast(neighbour, tf.int32) + 1) + jitter[:, 1]
    patches = _crops(images, tf.stack([centre, other], axis=1), patch_size)
    return patches[:, 0], patches[:, 1]
