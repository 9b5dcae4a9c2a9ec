"""Detection parts: necks (FPN), to be assembled with backbones from the registry."""

from yeehaw_tf.models.detection.fpn import EXTRA_LEVELS, NearestUpsampleLike, build_fpn, fpn_neck

__all__ = ["EXTRA_LEVELS", "NearestUpsampleLike", "build_fpn", "fpn_neck"]
