"""Semantic segmentation: standardise inside the model, predict per-pixel logits, per-pixel
cross-entropy; pixel accuracy and mean IoU as metrics."""

from __future__ import annotations

import dataclasses

import keras

from yeehaw_tf.layers import ChannelStandardization
from yeehaw_tf.losses.segmentation import PixelwiseCrossEntropy
from yeehaw_tf.metrics.segmentation import MeanIoU, PixelAccuracy
from yeehaw_tf.models.registry import build, get_segmenter
from yeehaw_tf.regularizers import weight_penalty
from yeehaw_tf.training.tasks.options import chosen_model_options
from yeehaw_tf.training.tasks.record import from_record


@dataclasses.dataclass(frozen=True)
class SegmentationTask:
    """What the Trainer needs for semantic segmentation.

    The model takes float pixels (0..255) of shape ``input_shape``, standardises them with the
    training split's per-channel ``mean``/``std`` and returns logits ``[batch, H, W, classes]``.
    Labels are class maps ``[batch, H, W]`` (background is a class).

    Args:
        model_name: a segmenter in ``yeehaw_tf.models.registry.SEGMENTERS``.
        num_classes: classes including background.
        class_names: their names (for reports and pictures).
        base_filters: width of models that take it (U-Net, SegNet); ``None``: the model's own.
        dropout: for models that take it.
        l1, l2: penalty on every kernel, for models that take ``kernel_regularizer``.
    """

    model_name: str
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...] = ()
    base_filters: int | None = None
    dropout: float = 0.0
    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self):
        get_segmenter(self.model_name)  # a clear error for an unknown or non-segmentation name
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"class_names has {len(self.class_names)} names for {self.num_classes} classes"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        weight_penalty(self.l1, self.l2)
        self._model_options()

    def _model_options(self) -> dict:
        chosen = {
            "base_filters": (self.base_filters, None),
            "dropout": (self.dropout, 0.0),
            "kernel_regularizer": (weight_penalty(self.l1, self.l2), None),
        }
        return chosen_model_options(self.model_name, chosen)

    def build_model(self) -> keras.Model:
        inputs = keras.Input(self.input_shape, name="images")
        x = ChannelStandardization(self.mean, self.std, name="standardize")(inputs)
        network = build(
            self.model_name, self.num_classes, self.input_shape, **self._model_options()
        )
        return keras.Model(inputs, network(x), name=f"{self.model_name}_segmenter")

    def inference_model(self, model: keras.Model) -> keras.Model:
        return model

    def loss(self) -> keras.losses.Loss:
        return PixelwiseCrossEntropy()

    def metrics(self) -> list[keras.metrics.Metric]:
        return [PixelAccuracy(self.num_classes, name="accuracy"), MeanIoU(self.num_classes)]

    def to_dict(self) -> dict:
        return {"task": "segmentation", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, config: dict) -> SegmentationTask:
        tuples = {"input_shape": int, "mean": float, "std": float, "class_names": str}
        return from_record(cls, config, tuples)
