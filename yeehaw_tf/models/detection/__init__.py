"""Detection parts: necks (FPN), to be assembled with backbones from the registry.

Pyramid levels are keyed one way throughout (backbone ``"C<l>"``, neck, anchors and RoI pooling
``"P<l>"``, level ``l`` at stride ``2**l``): see :mod:`yeehaw_tf.ops.levels`.
"""

from yeehaw_tf.models.detection.fpn import EXTRA_LEVELS, NearestUpsampleLike, build_fpn, fpn_neck

__all__ = ["EXTRA_LEVELS", "NearestUpsampleLike", "build_fpn", "fpn_neck"]
