"""--preprocessing: the classifier's first layer centres (or standardises) with statistics of
the training split only, kept in the model, so the exports apply the same processing."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest

from yeehaw_tf.layers import ChannelMeanSubtraction, ChannelStandardization, MeanImageSubtraction
from yeehaw_tf.training.config import make_config
from yeehaw_tf.training.experiment import run_experiment
from yeehaw_tf.training.runs import load_run
from yeehaw_tf.training.tasks import ClassificationOptions, ClassificationTask
from yeehaw_tf.training.tasks.images import as_arrays


@pytest.fixture(scope="module")
def train_images(data_dir):
    data = ClassificationTask.load_data(ClassificationOptions(), data_dir)
    return data, as_arrays(data.train)[0].astype(np.float64)


@pytest.mark.parametrize(
    "kind, layer_type",
    [
        ("channel_standardize", ChannelStandardization),
        ("channel_mean", ChannelMeanSubtraction),
        ("mean_image", MeanImageSubtraction),
        ("none", keras.layers.Rescaling),
    ],
)
def test_the_first_layer_does_what_its_name_says_with_training_split_statistics(
    kind, layer_type, train_images
):
    data, images = train_images
    options = ClassificationOptions(model="mlp", preprocessing=kind)
    task = ClassificationTask.from_data(options, data)
    layer = task.build_model().get_layer("standardize")
    assert isinstance(layer, layer_type)
    out = keras.ops.convert_to_numpy(layer(images[:16].astype(np.float32)))
    x = images[:16]
    expected = {
        "channel_standardize": (x - images.mean()) / images.std(),
        "channel_mean": (x - images.mean()) / 255.0,
        "mean_image": (x - images.mean(axis=0)) / 255.0,
        "none": x / 255.0,
    }[kind]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    # the record keeps what export needs to rebuild the same layer
    record = json.loads(json.dumps(task.to_dict()))
    rebuilt = ClassificationTask.from_dict(record).build_model().get_layer("standardize")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rebuilt(x.astype(np.float32))), out)


def test_a_mean_image_run_exports_and_the_exports_centre_the_same_way(data_dir, tmp_path):
    workdir = str(tmp_path / "run")
    config = make_config(
        workdir=workdir,
        data_dir=data_dir,
        model="mlp",
        preprocessing="mean_image",
        train_steps=5,
        quantize=("float32",),
    )
    summary = run_experiment(config, verbose=0)
    assert "export_error" not in summary
    with open(os.path.join(workdir, "export", "report.json")) as f:
        report = json.load(f)
    assert report["formats"]["float32"]["passed"] and report["formats"]["saved_model"]["passed"]
    assert isinstance(load_run(workdir).model.get_layer("standardize"), MeanImageSubtraction)
