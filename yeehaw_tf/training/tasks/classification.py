"""Image classification: standardise inside the model, predict logits, cross-entropy loss."""

from __future__ import annotations

import dataclasses

import keras

from yeehaw_tf.layers import (
    ACTIVATIONS,
    NORMALIZATIONS,
    ChannelStandardization,
    Resize,
    StackOutputs,
)
from yeehaw_tf.losses import AuxiliaryLoss, MulticlassHinge, SoftmaxCrossEntropy
from yeehaw_tf.metrics import MainOutputAccuracy
from yeehaw_tf.models.registry import build, get_classifier
from yeehaw_tf.regularizers import weight_penalty
from yeehaw_tf.training.tasks.options import chosen_model_options
from yeehaw_tf.training.tasks.record import from_record

LOSSES = ("cross_entropy", "hinge")


@dataclasses.dataclass(frozen=True)
class ClassificationTask:
    """What the Trainer needs for classification: a model, a loss and metrics.

    The model takes float pixels in the dataset's units (0..255) of shape ``input_shape``,
    standardises them with the training split's per-channel ``mean``/``std`` and returns logits
    (class scores).

    Args:
        model_name: a classifier in ``yeehaw_tf.models.registry``.
        activation, norm, dropout: passed to the model builder.
        l1, l2: strengths of the L1/L2 (both: elastic-net) penalty on every kernel.
        loss: ``cross_entropy`` (softmax cross-entropy) or ``hinge`` (multiclass SVM loss).
        label_smoothing: for ``cross_entropy`` only.
        image_size: ``(height, width)`` the network sees; the model resizes its input
            (bilinear) first, so it -- and its exports -- still take the dataset's images.
        aux_logits: train the auxiliary classifiers of models that have them (GoogLeNet,
            Inception v3) with weight 0.3: the training model stacks its heads and
            :meth:`inference_model` drops the auxiliary ones for evaluation and export.
    """

    model_name: str
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    activation: str = "relu"
    norm: str = "batch"
    dropout: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    loss_name: str = "cross_entropy"
    label_smoothing: float = 0.0
    image_size: tuple[int, int] | None = None
    aux_logits: bool = False

    def __post_init__(self):
        get_classifier(self.model_name)  # raises a clear error for an unknown name
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("norm", self.norm, NORMALIZATIONS)
        _choice("loss", self.loss_name, LOSSES)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.label_smoothing and self.loss_name != "cross_entropy":
            raise ValueError(
                f"label_smoothing applies to the cross_entropy loss, not to {self.loss_name!r}"
            )
        self.loss()  # validates label_smoothing
        self._model_options()  # refuses choices the model does not offer
        weight_penalty(self.l1, self.l2)  # validates l1, l2

    def build_model(self) -> keras.Model:
        inputs = keras.Input(self.input_shape, name="images")
        x, shape = inputs, self.input_shape
        if self.image_size and tuple(self.image_size) != tuple(self.input_shape[:2]):
            shape = (*self.image_size, self.input_shape[-1])
            x = Resize(*self.image_size, name="resize")(x)
        x = ChannelStandardization(self.mean, self.std, name="standardize")(x)
        network = build(self.model_name, self.num_classes, shape, **self._model_options())
        outputs = network(x)
        if self.aux_logits:
            outputs = StackOutputs(name="heads")(list(outputs))
        return keras.Model(inputs, outputs, name=f"{self.model_name}_classifier")

    def inference_model(self, model: keras.Model) -> keras.Model:
        """The model that evaluation and export use: without auxiliary heads."""
        if not self.aux_logits:
            return model
        main = model.get_layer("heads").input[0]
        return keras.Model(model.inputs, main, name=model.name)

    def _model_options(self) -> dict:
        """The model choices that differ from the defaults (models that do not offer a choice
        are refused by name, rather than silently ignoring it)."""
        chosen = {
            "activation": (self.activation, "relu"),
            "norm": (self.norm, "batch"),
            "dropout": (self.dropout, 0.0),
            "kernel_regularizer": (weight_penalty(self.l1, self.l2), None),
            "aux_logits": (self.aux_logits, False),
        }
        return chosen_model_options(self.model_name, chosen)

    def loss(self) -> keras.losses.Loss:
        if self.loss_name == "hinge":
            loss = MulticlassHinge()
        else:
            loss = SoftmaxCrossEntropy(label_smoothing=self.label_smoothing)
        return AuxiliaryLoss(loss, aux_weight=0.3) if self.aux_logits else loss

    def metrics(self) -> list[keras.metrics.Metric]:
        return [MainOutputAccuracy(name="accuracy")]

    def to_dict(self) -> dict:
        return {"task": "classification", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, config: dict) -> ClassificationTask:
        tuples = {"input_shape": int, "mean": float, "std": float, "image_size": int}
        return from_record(cls, config, tuples)


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; valid names: {', '.join(allowed)}")
