"""Siamese methods on two augmented views (:mod:`.views`): SimCLR (Chen et al. 2020), which
needs negatives, and SimSiam (Chen & He 2021), which does not.

Why SimSiam for the method without negatives: it needs neither BYOL's momentum encoder nor its
large batches; its stop-gradient and predictor alone prevent collapse, and Chen & He report it
stable from batch 64 up, the batch this CPU budget affords."""

from __future__ import annotations

import tensorflow as tf

from yeehaw_tf.losses.contrastive import negative_cosine, nt_xent
from yeehaw_tf.training.tasks.base import LossOutput
from yeehaw_tf.training.tasks.self_supervised.method import Method, mlp_head, pooled


def _embed_views(models, batch, training):
    (first, second), _ = batch
    both = pooled(models["encoder"](tf.concat([first, second], 0), training=training))
    return tf.split(both, 2)


class SimCLR(Method):
    """Two views through the encoder and a 2-layer projection MLP; NT-Xent at temperature
    ``temperature`` with the other 2N - 2 views of the **global** batch as negatives."""

    name = "simclr"
    views = True
    classifies = False

    def heads(self, embedding_dim):
        dim = self.options.projection_dim
        return {"projector": mlp_head(embedding_dim, embedding_dim, dim, "projector")}

    def loss(self, models, batch, training, random):
        h1, h2 = _embed_views(models, batch, training)
        z = models["projector"](tf.concat([h1, h2], 0), training=training)
        z1, z2 = tf.split(z, 2)
        rows = nt_xent(z1, z2, self.options.temperature)  # one loss per view: 2 per example
        return LossOutput(total=tf.reduce_sum(rows) / 2.0)


class SimSiam(Method):
    """Two views through the encoder and a projector (with batch norm); a predictor maps one
    view's projection to the other's, which is held still (stop-gradient); the loss is the
    symmetrised negative cosine ``D(p1, z2) / 2 + D(p2, z1) / 2``."""

    name = "simsiam"
    views = True
    classifies = False

    def heads(self, embedding_dim):
        dim = self.options.projection_dim
        return {
            "projector": mlp_head(embedding_dim, embedding_dim, dim, "projector", norm=True),
            "predictor": mlp_head(dim, max(dim // 4, 1), dim, "predictor", norm=True),
        }

    def loss(self, models, batch, training, random):
        h1, h2 = _embed_views(models, batch, training)
        z = models["projector"](tf.concat([h1, h2], 0), training=training)
        p = models["predictor"](z, training=training)
        z1, z2 = tf.split(z, 2)
        p1, p2 = tf.split(p, 2)
        per_example = 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)
        return LossOutput(total=tf.reduce_sum(per_example))
