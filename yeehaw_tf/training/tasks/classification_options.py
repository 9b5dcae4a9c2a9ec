"""The classification task's options: the model and its choices, the data subset, the
preprocessing, augmentation, transfer learning and adversarial training; each validated on
construction, before anything is built."""

from __future__ import annotations

import dataclasses

from yeehaw_tf.attacks.arguments import check_epsilon
from yeehaw_tf.attacks.gradient_sign import PIXEL_RANGE
from yeehaw_tf.data.augmentation import get_policy, policy_names, validate_policy
from yeehaw_tf.data.datasets import validate_dataset_name
from yeehaw_tf.data.subsets import check_classes
from yeehaw_tf.layers import ACTIVATIONS, NORMALIZATIONS
from yeehaw_tf.losses import SoftmaxCrossEntropy
from yeehaw_tf.models.registry import classifier_names, get_classifier
from yeehaw_tf.regularizers import weight_penalty
from yeehaw_tf.training.tasks import transfer
from yeehaw_tf.training.tasks.base import TaskOptions
from yeehaw_tf.training.tasks.options import (
    check_choice,
    check_fraction,
    check_image_size,
    chosen_model_options,
    option,
)
from yeehaw_tf.training.tasks.preprocessing import PREPROCESSING

LOSSES = ("cross_entropy", "hinge")
ADVERSARIAL_TRAINING = ("none", "fgsm")


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
        "model (all but its logits layer, which is new), or keras.applications.<Model> for its "
        "ImageNet weights (downloaded when online; MobileNetV2 into mobilenet_v2, VGG16 into "
        "vgg16).",
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
