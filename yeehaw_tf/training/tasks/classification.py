"""Image classification: standardise inside the model, predict logits, cross-entropy loss."""

from __future__ import annotations

import dataclasses

import keras

from yeehaw_tf.layers import ChannelStandardization
from yeehaw_tf.models.registry import get_classifier


@dataclasses.dataclass(frozen=True)
class ClassificationTask:
    """What the Trainer needs for classification: a model, a loss and metrics.

    The model takes float pixels in the dataset's units (0..255) of shape ``input_shape``,
    standardises them with the training split's per-channel ``mean``/``std`` and returns logits.
    """

    model_name: str
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self):
        get_classifier(self.model_name)  # raises a clear error for an unknown name

    def build_model(self) -> keras.Model:
        inputs = keras.Input(self.input_shape, name="images")
        x = ChannelStandardization(self.mean, self.std, name="standardize")(inputs)
        network = get_classifier(self.model_name)(
            num_classes=self.num_classes, input_shape=self.input_shape
        )
        return keras.Model(inputs, network(x), name=f"{self.model_name}_classifier")

    def loss(self) -> keras.losses.Loss:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def metrics(self) -> list[keras.metrics.Metric]:
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def to_dict(self) -> dict:
        return {"task": "classification", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, config: dict) -> ClassificationTask:
        return cls(
            model_name=config["model_name"],
            num_classes=int(config["num_classes"]),
            input_shape=tuple(int(d) for d in config["input_shape"]),
            mean=tuple(float(m) for m in config["mean"]),
            std=tuple(float(s) for s in config["std"]),
        )
