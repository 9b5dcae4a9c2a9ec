"""Self-supervised pre-training (``--task self_supervised --method NAME``): one encoder, one set
of unlabelled images, one budget, and one probe for every method.

The images are the dataset's training split resized to ``image_size`` (and, for grey datasets,
tinted by :func:`yeehaw_tf.data.tint.tint_radially`); the labels are never read by a method
(only by the ``supervised`` baseline and the probe). The encoder is the ``small_resnet`` trunk
(its first layer standardises raw pixels with the training split's channel statistics; its
output is the last stage's feature map, whose global average is the embedding) or, for the
masked autoencoder, ``vit_tiny``. After training, the linear and kNN probes
(:mod:`yeehaw_tf.analysis.probe`) measure the frozen embeddings on the labelled splits, and the
encoder exports with an ``embeddings`` output (the MAE also with ``reconstruction``).
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from yeehaw_tf.atomic import atomic_write_text
from yeehaw_tf.data.datasets import load_classification
from yeehaw_tf.data.digit_scenes import digit_scene, scene_seed
from yeehaw_tf.data.pipeline import resize_images
from yeehaw_tf.data.shuffling import shuffled_forever
from yeehaw_tf.data.tint import tint_radially
from yeehaw_tf.layers import ChannelStandardization
from yeehaw_tf.models.classification.small_resnet import small_resnet
from yeehaw_tf.models.self_supervised.mae import mae_encoder, masked_autoencoder
from yeehaw_tf.models.self_supervised.vit import VITS
from yeehaw_tf.training.tasks.base import TaskData
from yeehaw_tf.training.tasks.images import ImageTask, check_splits, statistics
from yeehaw_tf.training.tasks.self_supervised import serving
from yeehaw_tf.training.tasks.self_supervised.generative import Colorization, MaskedAutoencoder
from yeehaw_tf.training.tasks.self_supervised.method import Geometry, Supervised
from yeehaw_tf.training.tasks.self_supervised.options import VIT_ENCODER, SelfSupervisedOptions
from yeehaw_tf.training.tasks.self_supervised.pretexts import Context, Jigsaw, Rotation
from yeehaw_tf.training.tasks.self_supervised.probing import probe_task_model
from yeehaw_tf.training.tasks.self_supervised.siamese import SimCLR, SimSiam
from yeehaw_tf.training.tasks.self_supervised.views import two_views

METHOD_CLASSES = {
    cls.name: cls
    for cls in (
        Rotation,
        Jigsaw,
        Context,
        Colorization,
        MaskedAutoencoder,
        SimCLR,
        SimSiam,
        Supervised,
    )
}
PROBE_FILE = "probe.json"
SHUFFLE_BUFFER = 10_000
EVAL_VIEWS_SEED = 0  # evaluation views are the same for every run


def prepare_images(
    dataset: tf.data.Dataset, image_size, tint: bool, scenes: bool, split: int
) -> tf.data.Dataset:
    """``(uint8 image, label)`` -> the same at ``image_size``: grey images placed in scenes if
    ``scenes`` (:func:`yeehaw_tf.data.digit_scenes.digit_scene`, the same every read) and
    tinted if ``tint``."""

    def prepare(index, example):
        image, label = example
        if scenes and image.shape[-1] == 1:
            image = digit_scene(image, scene_seed(0, split, index), size=image_size[0])
        else:
            image = tf.cast(image, tf.float32)
            if tuple(image.shape[:2]) != tuple(image_size):
                image = resize_images(image, tuple(image_size))
            image = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)
        if tint and image.shape[-1] == 1:
            image = tint_radially(image)
        return image, tf.cast(label, tf.int64)

    return dataset.enumerate().map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


class SelfSupervisedTask(ImageTask):
    """The Task contract for every pre-training method (see the module docstring)."""

    name = "self_supervised"
    Options = SelfSupervisedOptions
    main_model = "encoder"

    def __init__(self, options, **measured):
        super().__init__(options, **measured)
        geometry = Geometry(self.input_shape, self.num_classes)
        cls = METHOD_CLASSES[options.method]
        if cls is MaskedAutoencoder:
            self.method = cls(options, geometry, self.mean, self.std)
            self.main_model = "mae"
        else:
            self.method = cls(options, geometry)
        self.probe_results: dict[str, float] = {}

    # ----------------------------------------------------------------------------- data
    @classmethod
    def load_data(cls, options: SelfSupervisedOptions, data_dir: str | None) -> TaskData:
        data = load_classification(options.dataset, data_dir)
        check_splits(options.dataset, data_dir, data.num_train, data.num_test)
        channels = data.image_shape[-1]
        channels = 3 if options.tint and channels == 1 else channels
        train = prepare_images(data.train, options.image_size, options.tint, options.scenes, 0)
        test = prepare_images(data.test, options.image_size, options.tint, options.scenes, 1)
        info = {
            "num_classes": data.num_classes,
            "image_shape": (*options.image_size, channels),
        }
        return TaskData(data.name, train, test, data.num_train, data.num_test, info)

    @classmethod
    def from_data(cls, options, data: TaskData) -> SelfSupervisedTask:
        mean, std = statistics(data.train.map(lambda image, label: image))
        return cls(
            options,
            num_classes=data.info["num_classes"],
            input_shape=data.info["image_shape"],
            mean=mean,
            std=std,
        )

    def _pipeline(self, dataset, batch_size, training, seed):
        ds = dataset.map(lambda image, label: (tf.cast(image, tf.float32), label)).cache()
        if training:
            ds = shuffled_forever(ds, SHUFFLE_BUFFER, seed)
        if self.method.views:
            ds = ds.enumerate().map(
                two_views(seed), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            )
        return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)

    def train_dataset(self, data, batch_size, seed):
        return self._pipeline(data.train, batch_size, True, seed)

    def eval_dataset(self, data, batch_size):
        return self._pipeline(data.test, batch_size, False, EVAL_VIEWS_SEED)

    # ----------------------------------------------------------------------------- models
    def build_encoder(self) -> keras.Model:
        """The ``small_resnet`` trunk from raw pixels (any size) to its feature map."""
        channels = self.input_shape[-1]
        inputs = keras.Input((None, None, channels), name="images")
        x = ChannelStandardization(self.mean, self.std, name="standardize")(inputs)
        trunk = small_resnet(
            input_shape=(None, None, channels), widths=self.options.widths, features=True
        )
        return keras.Model(inputs, trunk(x)["features"], name="encoder")

    def build_mae(self) -> keras.Model:
        return masked_autoencoder(
            input_shape=self.input_shape,
            mask_ratio=self.options.mask_ratio,
            **VITS[VIT_ENCODER],
        )

    def build_models(self) -> dict[str, keras.Model]:
        if isinstance(self.method, MaskedAutoencoder):
            return {"mae": self.build_mae()}
        encoder = self.build_encoder()
        return {"encoder": encoder, **self.method.heads(int(encoder.outputs[0].shape[-1]))}

    def inference_model(self, models) -> keras.Model:
        """From uint8-valued float images to ``{"embeddings"}`` (the MAE: also
        ``{"reconstruction", "mask"}`` from a second input, ``noise``)."""
        inputs = keras.Input(self.input_shape, name="images")
        if "mae" in models:
            mae = models["mae"]
            noise = keras.Input(tuple(mae.inputs[1].shape[1:]), name="noise")
            standardized = self.method.standardize(inputs)
            embeddings = mae_encoder(mae)(standardized)
            outputs = mae({"images": standardized, "noise": noise})
            return keras.Model(
                {"images": inputs, "noise": noise},
                {"embeddings": embeddings, **outputs},
                name="mae_encoder",
            )
        prepare = self.method.probe_input()
        features = models["encoder"](inputs if prepare is None else prepare(inputs))
        embeddings = keras.layers.GlobalAveragePooling2D(name="embeddings")(features)
        return keras.Model(inputs, {"embeddings": embeddings}, name="encoder_embeddings")

    # ----------------------------------------------------------------------------- the maths
    def compute_loss(self, models, batch, training, ctx):
        return self.method.loss(models, batch, training, ctx.random)

    def metrics(self):
        if not self.method.classifies:
            return []
        return [keras.metrics.SparseCategoricalAccuracy(name="pretext_accuracy")]

    def update_metrics(self, metrics, batch, outputs):
        if outputs is None:
            return
        for metric in metrics:
            metric.update_state(outputs["labels"], outputs["logits"])

    # ----------------------------------------------------------------------------- results
    def write_artifacts(self, model, data, workdir) -> dict:
        """Runs the probes on the frozen embeddings and writes ``probe.json``."""
        self.probe_results = probe_task_model(self, model, data)
        path = os.path.join(workdir, PROBE_FILE)
        atomic_write_text(path, json.dumps(self.probe_results, indent=2))
        return {"probe": path}

    def summary_rows(self, evaluation):
        rows = [("method", self.options.method), ("encoder", self.options.encoder)]
        if "pretext_accuracy" in evaluation:
            rows.append(("pretext accuracy", f"{evaluation['pretext_accuracy']:.4f}"))
        for key, label in (("linear_probe", "linear probe"), ("knn", "kNN probe")):
            if key in self.probe_results:
                rows.append((label, f"{self.probe_results[key]:.4f}"))
        return [*rows, *super().summary_rows(evaluation)]

    def serving_spec(self, model, data):
        return serving.embeddings_spec(self, model, data)
