"""Image classification: standardise inside the model, predict logits, cross-entropy loss."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.attacks import fgsm
from yeehaw_tf.data.datasets import load_classification
from yeehaw_tf.data.pipeline import classification_pipeline
from yeehaw_tf.data.statistics import mean_image
from yeehaw_tf.data.subsets import check_classes, count_examples, first_per_class, select_classes
from yeehaw_tf.export.spec import probabilities_spec
from yeehaw_tf.layers import Resize, StackOutputs
from yeehaw_tf.losses import AuxiliaryLoss, MulticlassHinge, SoftmaxCrossEntropy
from yeehaw_tf.metrics import MainOutputAccuracy
from yeehaw_tf.models.registry import build
from yeehaw_tf.optimizers.schedules import FineTuneScale
from yeehaw_tf.training.tasks import transfer
from yeehaw_tf.training.tasks.base import LossOutput, TaskData
from yeehaw_tf.training.tasks.classification_options import (
    ADVERSARIAL_TRAINING,
    LOSSES,
    ClassificationOptions,
    model_options,
)
from yeehaw_tf.training.tasks.images import ImageTask, as_arrays, check_splits, statistics
from yeehaw_tf.training.tasks.preprocessing import carried_preprocessing, preprocessing_layer

__all__ = ["ADVERSARIAL_TRAINING", "LOSSES", "ClassificationOptions", "ClassificationTask"]
NUM_REPRESENTATIVE = 256


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
                carried = carried_preprocessing(
                    source, options.preprocessing, task.input_shape, options.init_from
                )
                for name, value in carried.items():
                    setattr(task, name, value)
        return task

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
