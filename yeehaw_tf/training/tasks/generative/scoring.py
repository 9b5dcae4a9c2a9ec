"""Inception score and FID with our own classifier (not ImageNet's Inception: the figures are
comparable with each other, on the same dataset, and not with published ones).

The scorer is a ``small_resnet`` trained on the dataset's labelled training split with a fixed
recipe and seed, then cached beside the data (``DATA_DIR/yeehaw_tf_scorers/NAME/``), so every
generative run on a dataset is scored by the same network. Its pooled penultimate activations
are FID's features and its softmax the inception score's ``p(y | x)``. The real-data
reference -- the inception score of the test split and the FID between the training and test
splits -- is computed once with it and cached too: a generator is judged against those.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import tensorflow as tf

from yeehaw_tf.atomic import atomic_file, atomic_write_text
from yeehaw_tf.data.datasets import default_data_dir
from yeehaw_tf.layers import ChannelStandardization
from yeehaw_tf.metrics.generative import GenerativeScorer, real_data_reference
from yeehaw_tf.models.classification.small_resnet import small_resnet
from yeehaw_tf.training.tasks.images import as_arrays, statistics

SCORER_EPOCHS = 40
SCORER_BATCH = 64
SCORER_LEARNING_RATE = 3e-3
SCORER_SEED = 0


def scorer_dir(dataset: str, data_dir: str | None) -> str:
    return os.path.join(
        data_dir or default_data_dir(), "yeehaw_tf_scorers", dataset.replace("/", "_")
    )


def build_scorer(num_classes: int, image_shape, mean, std) -> keras.Model:
    """Float pixels (0..255) -> logits, flat enough that the pooled features are one layer's
    output (``features``) and the logits the last Dense's (``logits``)."""
    inputs = keras.Input(tuple(image_shape), name="images")
    x = ChannelStandardization(mean, std, name="standardize")(inputs)
    trunk = small_resnet(num_classes, tuple(image_shape), features=True, name="trunk")
    x = keras.layers.GlobalAveragePooling2D(name="features")(trunk(x)["features"])
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name="scorer")


def train_scorer(data) -> tuple[keras.Model, float]:
    """The scorer trained on ``data`` (a TaskData of (image, label) pairs); test accuracy."""
    keras.utils.set_random_seed(SCORER_SEED)
    train_images, train_labels = as_arrays(data.train)
    test_images, test_labels = as_arrays(data.test)
    mean, std = statistics(tf.data.Dataset.from_tensor_slices(train_images))
    model = build_scorer(data.info["num_classes"], data.info["image_shape"], mean, std)
    model.compile(
        keras.optimizers.Adam(SCORER_LEARNING_RATE),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        train_images.astype(np.float32),
        train_labels,
        batch_size=SCORER_BATCH,
        epochs=SCORER_EPOCHS,
        verbose=0,
        shuffle=True,
    )
    _, accuracy = model.evaluate(test_images.astype(np.float32), test_labels, verbose=0)
    return model, float(accuracy)


def load_scorer(data, data_dir: str | None) -> tuple[GenerativeScorer, dict]:
    """The dataset's cached scorer (trained and cached on first use) and its real-data
    reference ``{"scorer_accuracy", "test_inception_score", "train_test_fid"}``."""
    directory = scorer_dir(data.name, data_dir)
    model_path = os.path.join(directory, "classifier.keras")
    reference_path = os.path.join(directory, "reference.json")
    train_images, _ = as_arrays(data.train)
    if os.path.exists(model_path) and os.path.exists(reference_path):
        model = keras.saving.load_model(model_path, safe_mode=True)
        with open(reference_path) as f:
            reference = json.load(f)
    else:
        model, accuracy = train_scorer(data)
        test_images, _ = as_arrays(data.test)
        reference = {
            "scorer_accuracy": accuracy,
            **real_data_reference(model, train_images, test_images),
        }
        os.makedirs(directory, exist_ok=True)
        with atomic_file(model_path, suffix=".keras") as tmp:
            model.save(tmp)
        atomic_write_text(reference_path, json.dumps(reference, indent=2))
    return GenerativeScorer(model, train_images), reference


def score_images(scorer: GenerativeScorer, images: np.ndarray) -> dict[str, float]:
    """``{"inception_score", "inception_score_std", "fid"}`` of uint8 generated images (FID
    against the training split)."""
    return {k: float(v) for k, v in scorer.score(images).items()}


def score_rows(scores: dict, reference: dict) -> list[tuple[str, str]]:
    """Summary rows: each score beside the real data's."""
    rows = []
    if "inception_score" in scores:
        real = reference["test_inception_score"]
        rows.append(("IS (ours)", f"{scores['inception_score']:.3f} (test {real:.3f})"))
    if "fid" in scores:
        rows.append(
            ("FID (ours)", f"{scores['fid']:.3f} (train vs test {reference['train_test_fid']:.3f})")
        )
    return rows
