"""The sinusoidal timestep embedding against its formula, and the shared layer contract."""

from __future__ import annotations

import numpy as np
import pytest

from tests.layer_checks import check_layer
from yeehaw_tf.layers.time_embedding import SinusoidalEmbedding


def test_matches_the_formula():
    t = np.array([0, 1, 17, 999], np.float32)
    dim, period = 8, 10_000.0
    got = np.asarray(SinusoidalEmbedding(dim, period)(t))
    frequencies = period ** (-np.arange(dim // 2) / (dim // 2))
    angles = t[:, None].astype(np.float64) * frequencies[None]
    np.testing.assert_allclose(got, np.concatenate([np.sin(angles), np.cos(angles)], 1), atol=2e-4)


def test_layer_contract(tmp_path):
    check_layer(SinusoidalEmbedding(6), np.array([3.0, 40.0], np.float32), tmp_path)


@pytest.mark.parametrize(
    "kwargs,match", [({"dim": 5}, "even"), ({"dim": 4, "max_period": 1}, "max_period")]
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SinusoidalEmbedding(**kwargs)
