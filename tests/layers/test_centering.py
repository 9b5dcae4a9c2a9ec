"""Zero-centering layers against the formula (float64 NumPy) and the layer contract."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_checks import check_layer
from yeehaw_tf.data.statistics import mean_image
from yeehaw_tf.layers import ChannelMeanSubtraction, MeanImageSubtraction


def _images(shape=(4, 5, 6, 3)):
    return np.random.default_rng(0).integers(0, 256, size=shape).astype(np.float32)


def test_mean_image_subtraction_is_the_formula_on_uint8_input():
    x = _images().astype(np.uint8)
    mean = _images((1, 5, 6, 3))[0] / 2
    out = keras.ops.convert_to_numpy(MeanImageSubtraction(mean, scale=1 / 255)(x))
    expected = (x.astype(np.float64) - mean.astype(np.float64)) / 255.0
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_channel_mean_subtraction_is_the_formula():
    x = _images()
    mean = [3.0, 100.0, 250.5]
    out = keras.ops.convert_to_numpy(ChannelMeanSubtraction(mean)(x))
    np.testing.assert_allclose(out, x.astype(np.float64) - np.array(mean), atol=1e-4)


def test_the_mean_image_statistic_is_numpys_mean_over_images():
    images = _images((7, 4, 4, 2)).astype(np.uint8)
    measured = mean_image(tf.data.Dataset.from_tensor_slices(images), batch_size=3)
    np.testing.assert_allclose(measured, images.astype(np.float64).mean(axis=0), rtol=1e-12)
    centred = keras.ops.convert_to_numpy(MeanImageSubtraction(measured)(images))
    np.testing.assert_allclose(centred.mean(axis=0), 0.0, atol=1e-4)  # centred on its split


def test_layer_contracts(tmp_path):
    check_layer(MeanImageSubtraction(_images((1, 5, 6, 3))[0], scale=0.5), _images(), tmp_path)
    check_layer(ChannelMeanSubtraction([1.0, 2.0, 3.0], scale=2.0), _images(), tmp_path)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: MeanImageSubtraction(np.zeros((4, 4))), r"\[height, width, channels\]"),
        (lambda: MeanImageSubtraction(np.full((2, 2, 1), np.nan)), "finite"),
        (lambda: MeanImageSubtraction(np.zeros((2, 2, 1)), scale=0), "scale"),
        (lambda: ChannelMeanSubtraction([]), "one finite value per channel"),
        (lambda: ChannelMeanSubtraction([1.0], scale=-1), "scale"),
    ],
)
def test_bad_arguments_are_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_inputs_of_another_shape_are_refused():
    with pytest.raises(ValueError, match=r"input images are \(5, 6, 3\) but `mean_image`"):
        MeanImageSubtraction(np.zeros((4, 4, 3)))(_images())
    with pytest.raises(ValueError, match="3 channels but `mean` has 2"):
        ChannelMeanSubtraction([1.0, 2.0])(_images())
