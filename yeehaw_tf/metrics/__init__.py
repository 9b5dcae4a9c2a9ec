"""Metrics: classification (main-head accuracy), segmentation (pixel accuracy, mean IoU) and
detection (COCO box and mask and VOC mean average precision, COCO JSON for pycocotools) and
generative models (inception score, FID)."""

from yeehaw_tf.metrics.coco_json import coco_ground_truth, coco_results, write_coco_json
from yeehaw_tf.metrics.detection_map import (
    COCO_SUMMARY_KEYS,
    IOU_TYPES,
    COCOMeanAveragePrecision,
    coco_map,
    voc_map,
)
from yeehaw_tf.metrics.generative import GenerativeScorer, frechet_distance, inception_score
from yeehaw_tf.metrics.main_output import MainOutputAccuracy
from yeehaw_tf.metrics.masks import encode_rle, mask_iou
from yeehaw_tf.metrics.segmentation import MeanIoU, PixelAccuracy, mean_iou_from_confusion

__all__ = [
    "GenerativeScorer",
    "frechet_distance",
    "inception_score",
    "COCO_SUMMARY_KEYS",
    "IOU_TYPES",
    "COCOMeanAveragePrecision",
    "MainOutputAccuracy",
    "MeanIoU",
    "PixelAccuracy",
    "coco_ground_truth",
    "coco_map",
    "coco_results",
    "encode_rle",
    "mask_iou",
    "mean_iou_from_confusion",
    "voc_map",
    "write_coco_json",
]
