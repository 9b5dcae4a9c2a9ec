"""Pretext geometry against NumPy loops, brute-force counts and hand-computed positions."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from yeehaw_tf.ops.puzzles import (
    context_pairs,
    context_positions,
    hamming_distances,
    jigsaw_cell_size,
    jigsaw_permutations,
    jigsaw_tiles,
    rotate_images,
)

# Doersch et al. 2015, figure 2: neighbour k's direction (dy, dx) from the centre patch
DIRECTIONS = {
    0: (-1, -1),  # top-left
    1: (-1, 0),  # top
    2: (-1, 1),  # top-right
    3: (0, -1),  # left
    4: (0, 1),  # right
    5: (1, -1),  # bottom-left
    6: (1, 0),  # bottom
    7: (1, 1),  # bottom-right
}


# --- rotation -------------------------------------------------------------------------------


def test_rotations_match_numpy_rot90():
    x = np.random.default_rng(0).normal(size=(7, 5, 5, 2)).astype(np.float32)
    k = np.array([0, 1, 2, 3, 4, -1, 6])  # taken modulo 4, as np.rot90 does
    out = rotate_images(x, k).numpy()
    for i in range(len(k)):
        np.testing.assert_array_equal(out[i], np.rot90(x[i], k[i], axes=(0, 1)))


def test_rotations_trace_with_an_unknown_batch_and_keep_the_dtype():
    x = np.random.default_rng(1).integers(0, 255, size=(4, 6, 6, 3)).astype(np.uint8)
    k = np.array([3, 2, 1, 0], np.int32)
    traced = tf.function(
        rotate_images,
        input_signature=[tf.TensorSpec([None, 6, 6, 3], tf.uint8), tf.TensorSpec([None], tf.int32)],
    )
    out = traced(x, k).numpy()
    assert out.dtype == np.uint8
    for i in range(4):
        np.testing.assert_array_equal(out[i], np.rot90(x[i], k[i], axes=(0, 1)))
    with pytest.raises(ValueError, match="square"):
        rotate_images(np.zeros((1, 4, 5, 1)), [0])
    with pytest.raises(ValueError, match="k must be"):
        rotate_images(x, np.zeros((4, 1), np.int32))


# --- jigsaw permutations --------------------------------------------------------------------


def brute_hamming(perms):
    return np.array([[sum(int(a != b) for a, b in zip(p, q, strict=True)) for q in perms]
                     for p in perms])  # fmt: skip


def test_the_permutation_set_has_the_claimed_distances_and_beats_random_sets():
    perms = jigsaw_permutations(30, 9, seed=0)
    assert perms.shape == (30, 9) and perms.dtype == np.int32
    assert all(sorted(p) == list(range(9)) for p in perms)
    assert len({tuple(p) for p in perms}) == 30
    brute = brute_hamming(perms)
    np.testing.assert_array_equal(hamming_distances(perms), brute)
    off_diagonal = ~np.eye(30, dtype=bool)
    every = np.array(list(itertools.permutations(range(9))))
    rng = np.random.default_rng(1)
    for _ in range(3):
        random_set = every[rng.choice(len(every), 30, replace=False)]
        assert brute[off_diagonal].min() >= brute_hamming(random_set)[off_diagonal].min()
    assert brute[off_diagonal].min() >= 7
    np.testing.assert_array_equal(perms, jigsaw_permutations(30, 9, seed=0))
    assert not np.array_equal(perms, jigsaw_permutations(30, 9, seed=1))


@pytest.mark.parametrize("criterion", ["min", "mean"])
def test_each_greedy_choice_is_the_farthest_candidate(criterion):
    """Algorithm 1 step by step on the 720 permutations of 6 tiles: every choice scores the
    highest among the candidates not yet chosen (min or summed distance to the chosen set)."""
    perms = jigsaw_permutations(25, 6, seed=3, criterion=criterion)
    every = np.array(list(itertools.permutations(range(6))))
    assert len({tuple(p) for p in perms}) == 25
    reduce = np.min if criterion == "min" else np.sum
    for i in range(1, 25):
        chosen = perms[:i]
        d = (every[:, None, :] != chosen[None, :, :]).sum(-1)  # [720, i]
        score = reduce(d, axis=1)
        unchosen = ~np.any(np.all(every[:, None, :] == chosen[None], axis=-1), axis=1)
        choice = np.flatnonzero(np.all(every == perms[i], axis=1))[0]
        assert unchosen[choice] and score[choice] == score[unchosen].max()


def test_permutation_arguments_are_checked():
    assert jigsaw_permutations(24, 4).shape == (24, 4)  # every permutation of 4
    for kwargs, match in [
        ({"n": 0}, "n must be"),
        ({"n": 25, "num_tiles": 4}, "exceeds the 24"),
        ({"n": 2, "num_tiles": 11}, "num_tiles"),
        ({"n": 2, "criterion": "max"}, "criterion"),
    ]:
        with pytest.raises(ValueError, match=match):
            jigsaw_permutations(**kwargs)
    with pytest.raises(ValueError, match="perms"):
        hamming_distances(np.arange(9))


# --- jigsaw tiles ---------------------------------------------------------------------------


def reference_tiles(images, order, offsets, grid, tile):
    cell_h, cell_w = images.shape[1] // grid, images.shape[2] // grid
    out = np.zeros((len(images), grid * grid, tile, tile, images.shape[-1]), images.dtype)
    for b in range(len(images)):
        for slot in range(grid * grid):
            cell = order[b, slot]
            y = (cell // grid) * cell_h + offsets[b, cell, 0]
            x = (cell % grid) * cell_w + offsets[b, cell, 1]
            out[b, slot] = images[b, y : y + tile, x : x + tile]
    return out


def test_jigsaw_tiles_match_a_numpy_crop_loop():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 13, 14, 3)).astype(np.float32)  # cells 4x4, remainder unused
    order = np.stack([rng.permutation(9) for _ in range(2)])
    offsets = rng.integers(0, 2, size=(2, 9, 2))
    tiles = jigsaw_tiles(images, order, offsets, grid=3, tile_size=3).numpy()
    assert tiles.shape == (2, 9, 3, 3, 3)
    np.testing.assert_array_equal(tiles, reference_tiles(images, order, offsets, 3, 3))
    # whole cells, a 2x2 grid, inside a tf.function with an unknown batch
    order2 = np.stack([rng.permutation(4) for _ in range(2)]).astype(np.int32)
    zeros = np.zeros((2, 4, 2), np.int32)
    traced = tf.function(lambda x, p, o: jigsaw_tiles(x, p, o, grid=2))
    got = traced(tf.constant(images[:, :12, :12]), order2, zeros).numpy()
    np.testing.assert_array_equal(got, reference_tiles(images[:, :12, :12], order2, zeros, 2, 6))


def test_jigsaw_offsets_are_clipped_into_the_cell_and_sizes_checked():
    images = np.arange(2 * 12 * 12, dtype=np.float32).reshape(2, 12, 12, 1)
    order = np.tile(np.arange(9), (2, 1))
    far = np.full((2, 9, 2), 5)  # beyond cell - tile = 1
    np.testing.assert_array_equal(
        jigsaw_tiles(images, order, far, tile_size=3).numpy(),
        reference_tiles(images, order, np.ones_like(far), 3, 3),
    )
    assert jigsaw_cell_size(225, 3) == 75 and jigsaw_cell_size(13, 3) == 4
    with pytest.raises(ValueError, match="tile_size=5 exceeds"):
        jigsaw_tiles(images, order, far, tile_size=5)
    with pytest.raises(ValueError, match="permutation"):
        jigsaw_tiles(images, order[:, :4], far, tile_size=3)
    with pytest.raises(ValueError, match="offsets"):
        jigsaw_tiles(images, order, far[..., :1], tile_size=3)
    with pytest.raises(ValueError, match="image_size"):
        jigsaw_cell_size(2, 3)


# --- context prediction ---------------------------------------------------------------------


def test_context_positions_by_hand():
    # 32 pixels, patches 8, gap 2: the grid spans 3*8 + 2*2 = 28, starts at (32 - 28) // 2 = 2,
    # and steps by 8 + 2 = 10
    positions = context_positions(32, 8, 2, max_jitter=2)
    assert positions.shape == (9, 2)
    expected = [(12, 12), (2, 2), (2, 12), (2, 22), (12, 2), (12, 22), (22, 2), (22, 12), (22, 22)]
    np.testing.assert_array_equal(positions, expected)
    # a 24x40 image, patches 6, gap 1: spans 20, starts at (2, 10), steps by 7
    positions = context_positions((24, 40), 6, 1)
    np.testing.assert_array_equal(positions[[0, 1, 5, 8]], [(9, 17), (2, 10), (9, 24), (16, 24)])
    with pytest.raises(ValueError, match="need 34 pixels"):
        context_positions(32, 8, 2, max_jitter=3)
    with pytest.raises(ValueError, match="gap"):
        context_positions(32, 8, -1)


@pytest.mark.parametrize("size, patch, gap, jitter", [(32, 8, 2, 2), (96, 15, 7, 3), (33, 9, 0, 0)])
def test_context_geometry(size, patch, gap, jitter):
    positions = context_positions(size, patch, gap, jitter)
    centre = positions[0]
    for k, (dy, dx) in DIRECTIONS.items():
        np.testing.assert_array_equal(positions[k + 1] - centre, (patch + gap) * np.array((dy, dx)))
    # centred (to within a pixel), and every jittered patch inside the image
    span_start, span_end = positions.min(0), positions.max(0) + patch
    assert np.all(np.abs(span_start - (size - span_end)) <= 1)
    assert np.all(span_start - jitter >= 0) and np.all(span_end + jitter <= size)


def test_context_pairs_match_a_numpy_crop_loop():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 32, 32, 2)).astype(np.float32)
    neighbour = np.arange(8, dtype=np.int32)
    jitter = rng.integers(-2, 3, size=(8, 2, 2)).astype(np.int32)
    jitter[0] = [[-2, -2], [-2, -2]]  # the extremes reach the image's edges
    jitter[7] = [[2, 2], [2, 2]]
    centre, other = context_pairs(images, neighbour, jitter, 8, 2, 2)
    assert centre.shape == other.shape == (8, 8, 8, 2)
    positions = context_positions(32, 8, 2, 2)
    for b in range(8):
        cy, cx = positions[0] + jitter[b, 0]
        ny, nx = positions[neighbour[b] + 1] + jitter[b, 1]
        np.testing.assert_array_equal(centre[b], images[b, cy : cy + 8, cx : cx + 8])
        np.testing.assert_array_equal(other[b], images[b, ny : ny + 8, nx : nx + 8])
    # jitter beyond max_jitter is clipped; the op traces with an unknown batch
    traced = tf.function(lambda x, n, j: context_pairs(x, n, j, 8, 2, 2))
    clipped = traced(tf.constant(images), neighbour, 10 * np.sign(jitter).astype(np.int32))
    reference = context_pairs(images, neighbour, 2 * np.sign(jitter), 8, 2, 2)
    for got, want in zip(clipped, reference, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(ValueError, match="jitter must be"):
        context_pairs(images, neighbour, jitter[:, :1], 8, 2, 2)
