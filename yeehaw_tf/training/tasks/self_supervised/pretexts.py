"""Transformation and context prediction: rotation (Gidaris et al. 2018), the jigsaw puzzle
(Noroozi & Favaro 2016) and relative patch position (Doersch et al. 2015). Each turns unlabelled
images into a classification problem whose labels the transformation itself provides; the
geometry lives in :mod:`yeehaw_tf.ops.puzzles`."""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from yeehaw_tf.ops.puzzles import (
    context_pairs,
    context_positions,
    jigsaw_cell_size,
    jigsaw_permutations,
    jigsaw_tiles,
    rotate_images,
)
from yeehaw_tf.training.tasks.self_supervised.method import Method, mlp_head, pooled

HIDDEN = 256  # the jigsaw and context heads' hidden width
GRID = 3  # jigsaw: 3x3 tiles


class Rotation(Method):
    """Every image in all four rotations (0, 90, 180, 270 degrees) in one batch, as Gidaris et
    al. found best; a linear 4-way classifier on the embedding."""

    name = "rotation"

    def heads(self, embedding_dim):
        x = keras.Input((embedding_dim,), name="embeddings")
        logits = keras.layers.Dense(4, dtype="float32", name="logits")(x)
        return {"rotation_head": keras.Model(x, logits, name="rotation_head")}

    def loss(self, models, batch, training, random):
        images = batch[0]
        batch_size = tf.shape(images)[0]
        k = tf.repeat(tf.range(4, dtype=tf.int32), batch_size)
        rotated = rotate_images(tf.tile(images, [4, 1, 1, 1]), k)
        logits = models["rotation_head"](pooled(models["encoder"](rotated, training=training)))
        result = self.classified(k, logits)
        # four views of each example: their mean is the example's loss
        return dataclasses.replace(result, total=result.total / 4.0)


class Jigsaw(Method):
    """A 3x3 grid of tiles (``jigsaw_tile`` pixels inside cells of a third of the image: the gap
    and the jitter keep edges from giving the answer away), shuffled by one of ``permutations``
    permutations of maximal Hamming distance; the shared-weight encoder embeds each tile, and a
    head on the nine embeddings (concatenated in their shuffled order) names the permutation."""

    name = "jigsaw"

    def __init__(self, options, geometry):
        super().__init__(options, geometry)
        size = geometry.image_shape[0]
        self.cell = jigsaw_cell_size(size, GRID)
        self.tile = options.jigsaw_tile
        if self.tile > self.cell:
            raise ValueError(
                f"jigsaw_tile={self.tile} does not fit in a cell of {self.cell} pixels (a third "
                f"of {size}); choose at most {self.cell}"
            )
        self.permutations = tf.constant(
            jigsaw_permutations(options.permutations, GRID * GRID), tf.int32
        )

    def heads(self, embedding_dim):
        return {
            "jigsaw_head": mlp_head(
                GRID * GRID * embedding_dim, HIDDEN, self.options.permutations, "jigsaw_head"
            )
        }

    def loss(self, models, batch, training, random):
        images = batch[0]
        batch_size = tf.shape(images)[0]
        which = random.uniform(
            [batch_size], "jigsaw/permutation", 0, self.options.permutations, tf.int32
        )
        offsets = random.uniform(
            [batch_size, GRID * GRID, 2], "jigsaw/jitter", 0, self.cell - self.tile + 1, tf.int32
        )
        order = tf.gather(self.permutations, which)
        tiles = jigsaw_tiles(images, order, offsets, grid=GRID, tile_size=self.tile)
        channels = self.geometry.image_shape[-1]
        flat = tf.reshape(tiles, [-1, self.tile, self.tile, channels])
        embeddings = pooled(models["encoder"](flat, training=training))
        joined = tf.reshape(embeddings, [batch_size, -1])
        return self.classified(which, models["jigsaw_head"](joined, training=training))


class Context(Method):
    """A centre patch and one of its eight neighbours (with a gap and jitter), embedded by the
    shared encoder; a head on the pair of embeddings names the neighbour's position (8-way)."""

    name = "context"

    def __init__(self, options, geometry):
        super().__init__(options, geometry)
        # refuses a patch, gap and jitter that do not fit the image
        context_positions(geometry.image_shape[0], options.context_patch, options.context_gap)
        self._check_fits(geometry.image_shape[0])

    def _check_fits(self, size):
        o = self.options
        needed = 3 * o.context_patch + 2 * o.context_gap + 2 * o.context_jitter
        if needed > size:
            raise ValueError(
                f"context_patch={o.context_patch}, context_gap={o.context_gap} and "
                f"context_jitter={o.context_jitter} need {needed} pixels; the images have {size}"
            )

    def heads(self, embedding_dim):
        return {"context_head": mlp_head(2 * embedding_dim, HIDDEN, 8, "context_head")}

    def loss(self, models, batch, training, random):
        images = batch[0]
        batch_size = tf.shape(images)[0]
        o = self.options
        neighbour = random.uniform([batch_size], "context/neighbour", 0, 8, tf.int32)
        jitter = random.uniform(
            [batch_size, 2, 2], "context/jitter", -o.context_jitter, o.context_jitter + 1, tf.int32
        )
        centre, other = context_pairs(
            images, neighbour, jitter, o.context_patch, o.context_gap, o.context_jitter
        )
        both = pooled(models["encoder"](tf.concat([centre, other], 0), training=training))
        first, second = tf.split(both, 2)
        logits = models["context_head"](tf.concat([first, second], -1), training=training)
        return self.classified(neighbour, logits)
