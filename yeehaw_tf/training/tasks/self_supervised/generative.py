"""Data prediction: colorization (Zhang et al. 2016) and the masked autoencoder (He et al.
2022). Both predict part of the image from the rest: the colour from the lightness, the masked
patches from the visible ones."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.layers import ChannelStandardization
from yeehaw_tf.layers.lightness import Lightness, lightness_image
from yeehaw_tf.losses.masked_autoencoder import masked_patch_mse
from yeehaw_tf.models.self_supervised.mae import patch_size_of
from yeehaw_tf.ops.color import ab_bin_centres, quantize_ab, rgb_to_lab
from yeehaw_tf.ops.patches import patchify
from yeehaw_tf.training.tasks.base import LossOutput
from yeehaw_tf.training.tasks.self_supervised.method import Method

HEAD_WIDTH = 64


class Colorization(Method):
    """The ab colour channels predicted from the lightness L, as a *classification* over
    quantised ab bins (Zhang et al.'s choice: regression to the mean colour gives greyish,
    desaturated predictions where colours are multimodal). The encoder sees the lightness
    picture; a small convolutional head on its feature map (1/4 of the resolution, as Zhang et
    al. predict at 1/4) scores every bin at every position, and the target at each position is
    the bin nearest to the average ab of its block of pixels. Plain cross-entropy: without
    Zhang et al.'s class rebalancing (our images have few colours) nor soft encoding."""

    name = "colorization"

    def probe_input(self):
        """The encoder's input in its embedding model: the lightness it was trained on."""
        return Lightness(name="lightness")

    def __init__(self, options, geometry):
        super().__init__(options, geometry)
        if geometry.image_shape[-1] != 3:
            raise ValueError(
                f"method=colorization needs colour images; these have {geometry.image_shape[-1]} "
                "channel(s) (pass --tint for grey datasets)"
            )
        self.centres = np.asarray(ab_bin_centres(step=options.color_bin), np.float32)

    def heads(self, embedding_dim):
        x = keras.Input((None, None, embedding_dim), name="features")
        h = keras.layers.Conv2D(HEAD_WIDTH, 3, padding="same", activation="relu", name="conv")(x)
        logits = keras.layers.Conv2D(len(self.centres), 1, dtype="float32", name="bins")(h)
        return {"color_head": keras.Model(x, logits, name="color_head")}

    def loss(self, models, batch, training, random):
        images = batch[0]
        features = models["encoder"](lightness_image(images), training=training)
        logits = models["color_head"](features, training=training)
        ab = rgb_to_lab(images / 255.0)[..., 1:]
        block = images.shape[1] // features.shape[1]
        target_ab = tf.nn.avg_pool2d(ab, block, block, "VALID")
        labels = quantize_ab(target_ab, tf.constant(self.centres))
        return self.classified(labels, logits)


class MaskedAutoencoder(Method):
    """The masked autoencoder on the ViT encoder: 75% of the patches masked at random (fresh
    per step, from the step's randomness), the encoder on the visible ones only, the decoder's
    mean squared error on the masked ones only. The model sees images standardised with the
    training split's per-channel statistics, and reconstructs those."""

    name = "mae"
    classifies = False

    def __init__(self, options, geometry, mean, std):
        super().__init__(options, geometry)
        self.standardize = ChannelStandardization(mean, std, name="standardize")

    def loss(self, models, batch, training, random):
        images = self.standardize(batch[0])
        mae = models["mae"]
        num_patches = mae.inputs[1].shape[1]
        noise = random.uniform([tf.shape(images)[0], num_patches], "mae/noise")
        outputs = mae({"images": images, "noise": noise}, training=training)
        losses = masked_patch_mse(
            patchify(images, patch_size_of(mae)),
            outputs["reconstruction"],
            outputs["mask"],
            normalize_targets=self.options.normalize_targets,
        )
        return LossOutput(total=tf.reduce_sum(losses))
