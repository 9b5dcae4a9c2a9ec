"""Pretext geometry against NumPy loops and hand-computed positions."""

import itertools

import numpy as np
import pytest

from yeehaw_tf.ops.puzzles import (
    NEIGHBOURS,
    context_pairs,
    context_positions,
    hamming_distances,
    jigsaw_permutations,
    jigsaw_tiles,
    rotate_images,
)


def test_rotations_match_numpy_rot90():
    x = np.random.default_rng(0).normal(size=(4, 5, 5, 2)).astype(np.float32)
    k = np.array([0, 1, 2, 3])
    out = rotate_images(x, k).numpy()
    for i in range(4):
        np.testing.assert_array_equal(out[i], np.rot90(x[i], k[i], axes=(0, 1)))


def test_the_permutation_set_has_the_claimed_distances_and_beats_random_sets():
    perms = jigsaw_permutations(30, 9, seed=0)
    assert perms.shape == (30, 9)
    assert all(sorted(p) == list(range(9)) for p in perms)
    assert len({tuple(p) for p in perms}) == 30
    brute = np.array(
        [[sum(a != b for a, b in zip(p, q, strict=True)) for q in perms] for p in perms]
    )
    np.testing.assert_array_equal(hamming_distances(perms), brute)
    off_diagonal = brute[~np.eye(30, dtype=bool)]
    rng = np.random.default_rng(1)
    every = np.array(list(itertools.permutations(range(9))))
    random_set = every[rng.choice(len(every), 30, replace=False)]
    random_min = hamming_distances(random_set)[~np.eye(30, dtype=bool)].min()
    assert off_diagonal.min() >= random_min and off_diagonal.min() >= 7
    np.testing.assert_array_equal(perms, jigsaw_permutations(30, 9, seed=0))


def test_jigsaw_tiles_match_a_numpy_crop_loop():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 12, 12, 3)).astype(np.float32)
    order = np.stack([rng.permutation(9) for _ in range(2)])
    offsets = rng.integers(0, 2, size=(2, 9, 2))
    tiles = jigsaw_tiles(images, order, offsets, grid=3, tile_size=3).numpy()
    for b in range(2):
        for slot in range(9):
            cell = order[b, slot]
            y = (cell // 3) * 4 + offsets[b, cell, 0]
            x = (cell % 3) * 4 + offsets[b, cell, 1]
            np.testing.assert_array_equal(tiles[b, slot], images[b, y : y + 3, x : x + 3])


def test_context_positions_lay_a_centred_grid_in_doersch_order():
    positions = context_positions(32, 8, 2, max_jitter=2)
    # span 3*8 + 2*2 = 28, centred: starts at 2; the grid step is 10
    assert tuple(positions[0]) == (12, 12)
    expected = [(2 + 10 * r, 2 + 10 * c) for r, c in NEIGHBOURS]
    np.testing.assert_array_equal(positions[1:], expected)
    assert tuple(positions[1]) == (2, 2) and tuple(positions[8]) == (22, 22)  # corners
    with pytest.raises(ValueError, match="need 34 pixels"):
        context_positions(32, 8, 2, max_jitter=3)


def test_context_pairs_match_a_numpy_crop_loop():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(3, 32, 32, 1)).astype(np.float32)
    neighbour = np.array([0, 4, 7])
    jitter = rng.integers(-2, 3, size=(3, 2, 2))
    centre, other = context_pairs(images, neighbour, jitter, 8, 2, 2)
    positions = context_positions(32, 8, 2, 2)
    for b in range(3):
        cy, cx = positions[0] + jitter[b, 0]
        ny, nx = positions[neighbour[b] + 1] + jitter[b, 1]
        np.testing.assert_array_equal(centre[b], images[b, cy : cy + 8, cx : cx + 8])
        np.testing.assert_array_equal(other[b], images[b, ny : ny + 8, nx : nx + 8])
