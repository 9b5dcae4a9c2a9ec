import keras
import numpy as np
import pytest

from tests.helpers import FLOAT32_ATOL
from tests.layer_checks import check_layer
from yeehaw_tf.layers import ChannelStandardization

MEAN, STD = [10.0, 120.0, 250.0], [2.0, 60.0, 0.5]


def _images():
    return np.random.default_rng(0).integers(0, 256, size=(4, 5, 5, 3)).astype(np.float32)


def test_matches_keras_normalization():
    x = _images()
    reference = keras.layers.Normalization(mean=MEAN, variance=np.square(STD))
    ours = ChannelStandardization(MEAN, STD)
    np.testing.assert_allclose(ours(x), reference(x), atol=FLOAT32_ATOL, rtol=1e-5)


def test_matches_the_formula_in_float64_on_uint8_input():
    x = _images().astype(np.uint8)
    expected = (x.astype(np.float64) - np.array(MEAN)) / np.array(STD)
    out = keras.ops.convert_to_numpy(ChannelStandardization(MEAN, STD)(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-5)


def test_layer_contract(tmp_path):
    check_layer(ChannelStandardization(MEAN, STD), _images(), tmp_path)


@pytest.mark.parametrize(
    "mean, std, match",
    [
        ([], [], "at least one"),
        ([1.0], [1.0, 2.0], "one value per channel"),
        ([0.0], [0.0], "positive"),
    ],
)
def test_bad_statistics_are_refused(mean, std, match):
    with pytest.raises(ValueError, match=match):
        ChannelStandardization(mean, std)


def test_channel_mismatch_is_refused():
    with pytest.raises(ValueError, match="channels"):
        ChannelStandardization([0.0], [1.0])(np.zeros((1, 2, 2, 3), np.float32))
