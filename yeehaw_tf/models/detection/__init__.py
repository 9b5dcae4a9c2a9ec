"""Detection parts (backbones, FPN neck, anchor generator, heads, post-processor) and the
detector families assembled from them (``retinanet.py``, ...), registered in
``yeehaw_tf.models.registry.DETECTORS``.

A detector family is a plain object with (the contract the detection task relies on):

* ``loss_names``: the names of its loss components (logged);
* ``build(num_classes, input_shape) -> keras.Model``: standardised float images to a dict of raw
  outputs over ``N`` priors (anchors, default boxes, grid cells or locations);
* ``anchors(input_shape) -> [N, 4]``: its priors as xyxy pixel boxes (points for anchor-free
  families: ``x1 = x2``), passed back to ``loss`` and ``decode``;
* ``loss(outputs, gt_boxes [B, M, 4] xyxy pixels, gt_classes [B, M] (-1: padding), anchors)
  -> (total, {name: component}, normalizer)``: sums over this replica's batch, divided by the
  normalizer summed over the global batch (e.g. the number of positives);
* ``decode(outputs, anchors) -> (boxes [B, N, 4] xyxy pixels, scores [B, N, C])``, which the
  shared :class:`~yeehaw_tf.models.detection.postprocess.PostProcessor` turns into detections.

Pyramid levels are keyed one way throughout (backbone ``"C<l>"``, neck, anchors and RoI pooling
``"P<l>"``, level ``l`` at stride ``2**l``): see :mod:`yeehaw_tf.ops.levels`.
"""

from yeehaw_tf.models.detection.fpn import EXTRA_LEVELS, NearestUpsampleLike, build_fpn, fpn_neck

__all__ = ["EXTRA_LEVELS", "NearestUpsampleLike", "build_fpn", "fpn_neck"]
