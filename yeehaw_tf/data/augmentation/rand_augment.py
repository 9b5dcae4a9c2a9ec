"""Keras's ``RandAugment``, made to honour the ``seed`` it is given.

``keras.layers.RandAugment.get_random_transformation(data, training, seed)`` (Keras 3.15)
ignores ``seed`` and draws from the layer's own ``SeedGenerator``, so it cannot be driven by the
stateless per-element seeds that make the input stream resumable. This subclass draws the same
things (which ``num_ops`` operations, then every operation's parameters) from ``seed`` when one
is given; everything else, images included, is Keras's.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="yeehaw_tf")
class SeededRandAugment(keras.layers.RandAugment):
    """``keras.layers.RandAugment`` whose ``get_random_transformation`` uses its ``seed``."""

    def get_random_transformation(self, data, training=True, seed=None):
        if seed is None or not training:
            return super().get_random_transformation(data, training=training)
        layer_indices = self.backend.random.randint(
            (self.num_ops,), 0, len(self._AUGMENT_LAYERS), seed=seed
        )
        transforms = {
            name: getattr(self, name).get_random_transformation(data, training=True, seed=seed)
            for name in self._AUGMENT_LAYERS
        }
        return {"transforms": transforms, "layer_idxes": layer_indices}
