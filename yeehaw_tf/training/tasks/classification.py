"""Image classification: standardise inside the model, predict logits, cross-entropy loss."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.attacks import fgsm
from yeehaw_tf.attacks.arguments import check_epsilon
from yeehaw_tf.attacks.gradient_sign import PIXEL_RANGE
from yeehaw_tf.data.augmentation import get_policy, policy_names, validate_policy
from yeehaw_tf.data.datasets import load_classification, validate_dataset_name
from yeehaw_tf.data.pipeline import classification_pipeline
from yeehaw_tf.data.statistics import mean_image
from yeehaw_tf.data.subsets import check_classes, count_examples, first_per_class, select_classes
from yeehaw_tf.export.spec import probabilities_spec
from yeehaw_tf.layers import ACTIVATIONS, NORMALIZATIONS, Resize, StackOutputs
from yeehaw_tf.losses import AuxiliaryLoss, MulticlassHinge, SoftmaxCrossEntropy
from yeehaw_tf.metrics import MainOutputAccuracy
from yeehaw_tf.models.registry import build, classifier_names, get_classifier
from yeehaw_tf.optimizers.schedules import FineTuneScale
from yeehaw_tf.regularizers import weight_penalty
from yeehaw_tf.training.tasks import transfer
from yeehaw_tf.training.tasks.base import LossOutput, TaskData, TaskOptions
from yeehaw_tf.training.tasks.images import ImageTask, as_arrays, check_splits, statistics
from yeehaw_tf.training.tasks.options import (
    check_choice,
    check_fraction,
    check_image_size,
    chosen_model_options,
    option,
)
from yeehaw_tf.training.tasks.preprocessing import (
    PREPROCESSING,
    PREPROCESSING_OF_LAYER,
    preprocessing_layer,
)

LOSSES = ("cross_entropy", "hinge")
ADVERSARIAL_TRAINING = ("none", "fgsm")
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
    augment: str = option(
        "none",
        "Training augmentation policy (yeehaw_tf.data.augmentation; in the tf.data pipeline, "
        "never in exports). Digits: crop or geometric (flips change digits); mixup and cutmix "
        "train on soft labels.",
        lambda: policy_names("classification"),
    )
    preprocessing: str = option(
        "channel_standardize",
        "The model's first layer, statistics from the training split: channel_standardize "
        "((x - mean_c) / std_c), channel_mean ((x - mean_c) / 255), mean_image "
        "((x - mean image) / 255) or none (x / 255).",
        PREPROCESSING,
    )
    classes: tuple[int, ...] | None = option(
        None,
        "Train and test on these classes of the dataset only, relabelled 0..k-1 in the order "
        "given (e.g. 5,6,7,8,9).",
    )
    train_examples_per_class: int = option(
        0, "Keep only the first N training examples of each class (0: all): small-data runs."
    )
    init_from: str = option(
        "",
        "Transfer learning: a workdir or .keras file whose network's weights initialise this "
        "model (all but its logits layer, which is new).",
    )
    freeze: str = option(
        "none",
        "Layers held still: none, backbone (all but the logits layer) or all_but_last_N; frozen "
        "batch norm runs in inference mode.",
    )
    unfreeze_step: int = option(
        0,
        "Two-phase transfer: train only the unfrozen layers until this step, then everything at "
        "fine_tune_lr_factor x the learning rate (0: frozen layers stay frozen).",
    )
    fine_tune_lr_factor: float = option(
        0.1, "Learning-rate factor once the frozen layers unfreeze (see unfreeze_step)."
    )

    adversarial_training: str = option(
        "none",
        "fgsm: Goodfellow et al.'s adversarial training, the loss mixing clean examples and "
        "their FGSM examples (computed inside the step against the current weights).",
        ADVERSARIAL_TRAINING,
    )
    adversarial_epsilon: float = option(
        16.0, "Adversarial training: the FGSM epsilon, in pixel units of the raw images (0..255)."
    )
    adversarial_weight: float = option(
        0.5,
        "Adversarial training: the clean examples' weight alpha in "
        "alpha*J(x) + (1-alpha)*J(x_adv).",
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
        validate_policy("classification", self.augment)
        check_choice("preprocessing", self.preprocessing, PREPROCESSING)
        if self.classes is not None:
            check_classes(self.classes, max(self.classes) + 1)
        if not isinstance(self.train_examples_per_class, int) or self.train_examples_per_class < 0:
            raise ValueError(
                "train_examples_per_class must be an integer >= 0 (0: all), got "
                f"{self.train_examples_per_class!r}"
            )
        transfer.check_freeze(self.freeze)
        if not isinstance(self.unfreeze_step, int) or self.unfreeze_step < 0:
            raise ValueError(f"unfreeze_step must be an integer >= 0, got {self.unfreeze_step!r}")
        if self.unfreeze_step and self.freeze == "none":
            raise ValueError("unfreeze_step needs --freeze (backbone or all_but_last_N)")
        if not 0.0 < self.fine_tune_lr_factor <= 1.0:
            raise ValueError(
                f"fine_tune_lr_factor must be in (0, 1], got {self.fine_tune_lr_factor!r}"
            )
        check_choice("adversarial_training", self.adversarial_training, ADVERSARIAL_TRAINING)
        if self.adversarial_training != "none":
            check_epsilon(self.adversarial_epsilon, PIXEL_RANGE, what="adversarial_epsilon")
            if not 0.0 <= self.adversarial_weight <= 1.0:
                raise ValueError(
                    f"adversarial_weight must be in [0, 1], got {self.adversarial_weight!r}"
                )
            if get_policy("classification", self.augment).soft_labels:
                raise ValueError(
                    f"adversarial_training attacks integer labels: it does not combine with "
                    f"augment={self.augment} (soft labels)"
                )
            if self.aux_logits or self.loss != "cross_entropy":
                raise ValueError(
                    "adversarial_training attacks the cross-entropy of one output: it does not "
                    "combine with aux_logits or loss=hinge"
                )
        if self.freeze != "none" and self.aux_logits:
            raise ValueError("freeze does not combine with aux_logits (which heads are new?)")


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
        train, test = data.train, data.test
        num_classes, num_train, num_test = data.num_classes, data.num_train, data.num_test
        if options.classes is not None:
            classes = check_classes(options.classes, num_classes)
            train, test = select_classes(train, classes), select_classes(test, classes)
            num_classes = len(classes)
        if options.train_examples_per_class:
            train = first_per_class(train, options.train_examples_per_class, num_classes)
        if options.classes is not None or options.train_examples_per_class:
            num_train, num_test = count_examples(train), count_examples(test)
        check_splits(options.dataset, data_dir, num_train, num_test)
        info = {"num_classes": num_classes, "image_shape": data.image_shape}
        return TaskData(data.name, train, test, num_train, num_test, info)

    @classmethod
    def from_data(cls, options: ClassificationOptions, data: TaskData) -> ClassificationTask:
        images = data.train.map(lambda image, label: image)
        mean, std = statistics(images)
        task = cls(
            options,
            num_classes=data.info["num_classes"],
            input_shape=data.info["image_shape"],
            mean=mean,
            std=std,
            mean_image=mean_image(images) if options.preprocessing == "mean_image" else None,
        )
        if options.init_from:  # training only: a rebuilt run restores its own checkpoint
            task.pretrained, source = transfer.pretrained(options.init_from)
            if source is not None:  # prepare inputs as the pre-trained network saw them
                task._take_preprocessing(source)
        return task

    def _take_preprocessing(self, source: dict) -> None:
        kind = PREPROCESSING_OF_LAYER.get(source["class_name"])
        if kind != self.options.preprocessing:
            raise ValueError(
                f"--init_from {self.options.init_from}: its model prepares inputs with "
                f"{kind or source['class_name']}, not --preprocessing={self.options.preprocessing}"
            )
        config = source["config"]
        channels = self.input_shape[-1]
        if kind in ("channel_standardize", "channel_mean") and len(config["mean"]) != channels:
            raise ValueError(
                f"--init_from {self.options.init_from}: its model takes {len(config['mean'])} "
                f"channels, this dataset has {channels}"
            )
        if kind in ("channel_standardize", "channel_mean"):
            self.mean = tuple(config["mean"])
        if kind == "channel_standardize":
            self.std = tuple(config["std"])
        if kind == "mean_image":
            image = np.asarray(config["mean_image"], np.float64)
            if image.shape != self.input_shape:
                raise ValueError(
                    f"--init_from {self.options.init_from}: its mean image is {image.shape}, "
                    f"this dataset's images are {self.input_shape}"
                )
            self.mean_image = image

    def __init__(self, options, *, mean_image=None, **measured):
        super().__init__(options, **measured)
        self.mean_image = None if mean_image is None else np.asarray(mean_image, np.float64)
        self.pretrained = None

    def _record(self) -> dict:
        record = super()._record()
        if self.mean_image is not None:
            record["mean_image"] = self.mean_image.tolist()
        return record

    @classmethod
    def from_dict(cls, record):
        task = super().from_dict(record)
        if "mean_image" in record:
            task.mean_image = np.asarray(record["mean_image"], np.float64)
        return task

    def train_dataset(self, data: TaskData, batch_size: int, seed: int):
        return classification_pipeline(
            data.train,
            batch_size=batch_size,
            training=True,
            seed=seed,
            augment=self.options.augment,
            num_classes=self.num_classes,
        )

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
        x = preprocessing_layer(options.preprocessing, self.mean, self.std, self.mean_image)(x)
        network = build(options.model, self.num_classes, shape, **model_options(options))
        if self.pretrained is not None:
            transfer.load_pretrained(network, self.pretrained, options.init_from)
        self._held = transfer.freeze(network, options.freeze, options.unfreeze_step)
        outputs = network(x)
        if options.aux_logits:
            outputs = StackOutputs(name="heads")(list(outputs))
        return keras.Model(inputs, outputs, name=f"{options.model}_classifier")

    def build_optimizers(self, make_optimizer, models):
        optimizer = make_optimizer()
        if self.options.unfreeze_step:  # fine-tuning continues at a lower learning rate
            rate = optimizer.get_config()["learning_rate"]
            if isinstance(rate, dict):
                rate = keras.optimizers.schedules.deserialize(rate)
            optimizer.learning_rate = FineTuneScale(
                rate, self.options.unfreeze_step, self.options.fine_tune_lr_factor
            )
        return {"model": optimizer}

    def gradient_scales(self, ctx):
        """Until ``unfreeze_step`` the frozen layers' gradients are zero (two-phase transfer)."""
        if not self.options.unfreeze_step:
            return None
        names = {v.path for v in self._held}
        held = [v for v in ctx.models["model"].trainable_variables if v.path in names]
        return [(held, tf.cast(ctx.step >= self.options.unfreeze_step, tf.float32))]

    def compute_loss(self, models, batch, training: bool, ctx):
        """Cross-entropy; with ``adversarial_training`` (training only), Goodfellow et al.'s
        ``alpha * J(x, y) + (1 - alpha) * J(x_adv, y)`` with ``x_adv`` the FGSM images of the
        current weights; clean and adversarial images go through the model as one batch."""
        if not training or self.options.adversarial_training == "none":
            return super().compute_loss(models, batch, training, ctx)
        images, labels = batch
        model = models["model"]
        adversarial = fgsm(model, images, labels, self.options.adversarial_epsilon)
        logits = model(tf.concat([images, adversarial], axis=0), training=True)
        losses = tf.cast(self._per_example(tf.concat([labels, labels], 0), logits), tf.float32)
        clean, attacked = tf.split(losses, 2)
        alpha = self.options.adversarial_weight
        per_example = alpha * clean + (1.0 - alpha) * attacked
        outputs = tf.split(logits, 2)[0]
        return LossOutput(total=tf.reduce_sum(per_example), outputs=outputs)

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
