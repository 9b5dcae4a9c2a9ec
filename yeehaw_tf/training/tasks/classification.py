"""Image classification: standardise inside the model, predict logits, cross-entropy loss."""

from __future__ import annotations

import dataclasses

import keras

from yeehaw_tf.data.datasets import load_classification, validate_dataset_name
from yeehaw_tf.data.pipeline import classification_pipeline
from yeehaw_tf.export.spec import probabilities_spec
from yeehaw_tf.layers import (
    ACTIVATIONS,
    NORMALIZATIONS,
    ChannelStandardization,
    Resize,
    StackOutputs,
)
from yeehaw_tf.losses import AuxiliaryLoss, MulticlassHinge, SoftmaxCrossEntropy
from yeehaw_tf.metrics import MainOutputAccuracy
from yeehaw_tf.models.registry import build, classifier_names, get_classifier
from yeehaw_tf.regularizers import weight_penalty
from yeehaw_tf.training.tasks.base import TaskData, TaskOptions
from yeehaw_tf.training.tasks.images import ImageTask, as_arrays, check_splits, statistics
from yeehaw_tf.training.tasks.options import (
    check_choice,
    check_fraction,
    check_image_size,
    chosen_model_options,
    option,
)

LOSSES = ("cross_entropy", "hinge")
NUM_REPRESENTATIVE = 256


@dataclasses.dataclass(frozen=True)
class ClassificationOptions(TaskOptions):
    """Options of the classification task (validated on construction)."""

    model: str = option("small_resnet", "Classifier to train.", classifier_names)
    dataset: str = option("digits", "Dataset of (image, label) pairs, optionally name/config.")
    epochs: int = option(30, "Epochs to train when --train_steps is not set.")
    activation: str = option("relu", "The model's non-linearity.", ACTIVATIONS)
    norm: str = option(
        "batch",
        "The model's normalisation: batch (synchronized across replicas), layer, group, instance.",
        NORMALIZATIONS,
    )
    dropout: float = option(0.0, "Dropout rate before the classifier, in [0, 1).")
    loss: str = option("cross_entropy", "cross_entropy or hinge (multiclass SVM).", LOSSES)
    label_smoothing: float = option(0.0, "Label smoothing for the cross_entropy loss, [0, 1).")
    l1: float = option(0.0, "L1 penalty on every kernel, added to the loss.")
    l2: float = option(0.0, "L2 penalty on every kernel, added to the loss (with l1: elastic net).")
    image_size: tuple[int, int] | None = option(
        None,
        "height,width the network sees (the model resizes its input first, so small datasets "
        "can train the ImageNet architectures; exports still take native images).",
    )
    aux_logits: bool = option(
        False,
        "Train the auxiliary classifiers (googlenet, inception_v3), loss weight 0.3; they are "
        "dropped for evaluation accuracy and export.",
    )

    def __post_init__(self):
        get_classifier(self.model)  # raises a clear error for an unknown name
        validate_dataset_name(self.dataset)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("norm", self.norm, NORMALIZATIONS)
        check_choice("loss", self.loss, LOSSES)
        check_fraction("dropout", self.dropout)
        check_image_size(self.image_size)
        if self.label_smoothing and self.loss != "cross_entropy":
            raise ValueError(
                f"label_smoothing applies to the cross_entropy loss, not to {self.loss!r}"
            )
        SoftmaxCrossEntropy(label_smoothing=self.label_smoothing)  # validates label_smoothing
        weight_penalty(self.l1, self.l2)  # validates l1, l2
        model_options(self)  # refuses choices the model does not offer


def model_options(options: ClassificationOptions) -> dict:
    """The model choices that differ from the defaults (models that do not offer a choice are
    refused by name, rather than silently ignoring it)."""
    chosen = {
        "activation": (options.activation, "relu"),
        "norm": (options.norm, "batch"),
        "dropout": (options.dropout, 0.0),
        "kernel_regularizer": (weight_penalty(options.l1, options.l2), None),
        "aux_logits": (options.aux_logits, False),
    }
    return chosen_model_options(options.model, chosen)


class ClassificationTask(ImageTask):
    """What the Trainer needs for classification: a model, a loss and metrics.

    The model takes float pixels in the dataset's units (0..255) of shape ``input_shape``,
    standardises them with the training split's per-channel ``mean``/``std`` and returns logits
    (class scores). With ``aux_logits`` the training model stacks its heads and
    :meth:`inference_model` drops the auxiliary ones for evaluation and export.
    """

    name = "classification"
    Options = ClassificationOptions

    # ----------------------------------------------------------------------------- data
    @classmethod
    def load_data(cls, options: ClassificationOptions, data_dir: str | None) -> TaskData:
        data = load_classification(options.dataset, data_dir)
        check_splits(options.dataset, data_dir, data.num_train, data.num_test)
        info = {"num_classes": data.num_classes, "image_shape": data.image_shape}
        return TaskData(data.name, data.train, data.test, data.num_train, data.num_test, info)

    @classmethod
    def from_data(cls, options: ClassificationOptions, data: TaskData) -> ClassificationTask:
        mean, std = statistics(data.train.map(lambda image, label: image))
        return cls(
            options,
            num_classes=data.info["num_classes"],
            input_shape=data.info["image_shape"],
            mean=mean,
            std=std,
        )

    def train_dataset(self, data: TaskData, batch_size: int, seed: int):
        return classification_pipeline(data.train, batch_size=batch_size, training=True, seed=seed)

    def eval_dataset(self, data: TaskData, batch_size: int):
        return classification_pipeline(data.test, batch_size=batch_size, training=False)

    # ----------------------------------------------------------------------------- models
    def build_model(self) -> keras.Model:
        options = self.options
        inputs = keras.Input(self.input_shape, name="images")
        x, shape = inputs, self.input_shape
        if options.image_size and tuple(options.image_size) != tuple(self.input_shape[:2]):
            shape = (*options.image_size, self.input_shape[-1])
            x = Resize(*options.image_size, name="resize")(x)
        x = ChannelStandardization(self.mean, self.std, name="standardize")(x)
        network = build(options.model, self.num_classes, shape, **model_options(options))
        outputs = network(x)
        if options.aux_logits:
            outputs = StackOutputs(name="heads")(list(outputs))
        return keras.Model(inputs, outputs, name=f"{options.model}_classifier")

    def inference_model(self, models) -> keras.Model:
        """The model that evaluation and export use: without auxiliary heads."""
        model = models["model"] if isinstance(models, dict) else models
        if not self.options.aux_logits:
            return model
        main = model.get_layer("heads").input[0]
        return keras.Model(model.inputs, main, name=model.name)

    def loss(self) -> keras.losses.Loss:
        if self.options.loss == "hinge":
            loss = MulticlassHinge()
        else:
            loss = SoftmaxCrossEntropy(label_smoothing=self.options.label_smoothing)
        return AuxiliaryLoss(loss, aux_weight=0.3) if self.options.aux_logits else loss

    def metrics(self) -> list[keras.metrics.Metric]:
        return [MainOutputAccuracy(name="accuracy")]

    # ----------------------------------------------------------------------------- results
    def serving_spec(self, model: keras.Model, data: TaskData):
        images, labels = as_arrays(data.test)
        representative, _ = as_arrays(data.train, NUM_REPRESENTATIVE)
        return probabilities_spec(
            model,
            images=images,
            labels=labels,
            representative_images=representative,
            num_classes=self.num_classes,
            metadata={
                "task": self.name,
                "num_classes": self.num_classes,
                "class_names": list(self.class_names),
            },
        )

    def summary_rows(self, evaluation) -> list[tuple[str, str]]:
        return [
            ("test accuracy", f"{evaluation.get('accuracy', float('nan')):.4f}"),
            *super().summary_rows(evaluation),
        ]
