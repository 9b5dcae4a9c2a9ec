"""RoIPool, RoIAlign and FPN level assignment against float64 loops transcribed from
torchvision's CPU kernels (``roi_pool_kernel.cpp``, ``roi_align_kernel.cpp``,
``poolers.LevelMapper``)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import FLOAT32_ATOL
from yeehaw_tf.ops.roi import (
    assign_fpn_levels,
    multilevel_roi_align,
    roi_align,
    roi_pool,
)
from yeehaw_tf.ops.roi.costs import gathers_are_cheaper

FLOAT64_ATOL = 1e-10


# --- references -------------------------------------------------------------------------------
# ``T`` is the type of the coordinate arithmetic, as the kernels' template parameter: np.float64
# for float64 features, np.float32 to reproduce a float32 run's bin boundaries bit for bit.
# Feature values are always accumulated in float64.


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


def _bilinear(fmap, y, x, T):
    height, width = fmap.shape[:2]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(fmap.shape[-1])
    y, x = max(y, T(0)), max(x, T(0))
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_high = y_low = height - 1
        y = T(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_high = x_low = width - 1
        x = T(x_low)
    else:
        x_high = x_low + 1
    ly, lx = float(y - y_low), float(x - x_low)
    hy, hx = 1.0 - ly, 1.0 - lx
    return (
        hy * hx * fmap[y_low, x_low]
        + hy * lx * fmap[y_low, x_high]
        + ly * hx * fmap[y_high, x_low]
        + ly * lx * fmap[y_high, x_high]
    )


def roi_align_reference(features, rois, output_size, scale, sampling_ratio, aligned, T=np.float64):
    out_h, out_w = _pair(output_size)
    features = np.asarray(features, np.float64)
    out = np.zeros((len(rois), out_h, out_w, features.shape[-1]))
    offset = T(0.5) if aligned else T(0)
    for k, roi in enumerate(rois):
        fmap = features[int(roi[0])]
        x1, y1, x2, y2 = (T(v) * T(scale) - offset for v in roi[1:])
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:
            roi_w, roi_h = max(roi_w, T(1)), max(roi_h, T(1))
        bin_h, bin_w = roi_h / T(out_h), roi_w / T(out_w)
        grid_h = sampling_ratio if sampling_ratio > 0 else int(math.ceil(roi_h / T(out_h)))
        grid_w = sampling_ratio if sampling_ratio > 0 else int(math.ceil(roi_w / T(out_w)))
        count = max(grid_h * grid_w, 1)
        for ph in range(out_h):
            for pw in range(out_w):
                total = np.zeros(features.shape[-1])
                for iy in range(grid_h):
                    y = y1 + T(ph) * bin_h + T(iy + 0.5) * bin_h / T(grid_h)
                    for ix in range(grid_w):
                        x = x1 + T(pw) * bin_w + T(ix + 0.5) * bin_w / T(grid_w)
                        total += _bilinear(fmap, y, x, T)
                out[k, ph, pw] = total / count
    return out


def _round_half_away(v):
    return math.copysign(math.floor(abs(v) + 0.5), v)  # std::round


def roi_pool_reference(features, rois, output_size, scale, T=np.float64):
    out_h, out_w = _pair(output_size)
    features = np.asarray(features, np.float64)
    height, width = features.shape[1:3]
    out = np.zeros((len(rois), out_h, out_w, features.shape[-1]))
    for k, roi in enumerate(rois):
        fmap = features[int(roi[0])]
        x1, y1, x2, y2 = (int(_round_half_away(T(v) * T(scale))) for v in roi[1:])
        bin_h = T(max(y2 - y1 + 1, 1)) / T(out_h)
        bin_w = T(max(x2 - x1 + 1, 1)) / T(out_w)
        for ph in range(out_h):
            for pw in range(out_w):
                h0 = min(max(math.floor(T(ph) * bin_h) + y1, 0), height)
                h1 = min(max(math.ceil(T(ph + 1) * bin_h) + y1, 0), height)
                w0 = min(max(math.floor(T(pw) * bin_w) + x1, 0), width)
                w1 = min(max(math.ceil(T(pw + 1) * bin_w) + x1, 0), width)
                if h1 > h0 and w1 > w0:
                    out[k, ph, pw] = fmap[h0:h1, w0:w1].max(axis=(0, 1))
    return out


def fpn_levels_reference(boxes, k_min=2, k_max=5, canonical_size=224, canonical_level=4):
    levels = []
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64):
        side = math.sqrt(max((x2 - x1) * (y2 - y1), 0.0))
        if side == 0:  # log2(0) = -inf, clamped up
            levels.append(k_min)
            continue
        k = math.floor(canonical_level + math.log2(side / canonical_size) + 1e-6)
        levels.append(min(max(k, k_min), k_max))
    return np.array(levels)


# --- data -------------------------------------------------------------------------------------


def _features(seed=0, shape=(2, 9, 11, 3)):
    return np.random.default_rng(seed).normal(size=shape)


def _rois(seed=0, image=(36, 44), batch=2):
    """Image-pixel RoIs for a 1/4-scale 9x11 map: random ones inside, ones partly or wholly
    outside, tiny and degenerate ones, one far larger than the image, and corners that land on
    half pixels (x * 1/4 = n + 0.5, where round-half-away and round-half-even differ)."""
    rng = np.random.default_rng(seed)
    h, w = image
    rows = []
    for _ in range(8):
        x1, y1 = rng.uniform(0, w - 2), rng.uniform(0, h - 2)
        rows.append([x1, y1, x1 + rng.uniform(1, w / 1.5), y1 + rng.uniform(1, h / 1.5)])
    for _ in range(4):  # partly outside
        x1, y1 = rng.uniform(-20, 8), rng.uniform(-20, 8)
        rows.append([x1, y1, x1 + rng.uniform(20, 70), y1 + rng.uniform(20, 60)])
    for _ in range(3):  # tiny
        x1, y1 = rng.uniform(0, w), rng.uniform(0, h)
        rows.append([x1, y1, x1 + rng.uniform(0, 1.5), y1 + rng.uniform(0, 1.5)])
    rows += [
        [-200.0, -150.0, 300.0, 250.0],  # far larger than the image
        [60.0, 50.0, 90.0, 70.0],  # wholly outside
        [10.0, 6.0, 22.0, 30.0],  # half-pixel corners at scale 1/4
        [-6.0, 2.0, 14.0, 42.0],  # half-pixel corners, negative too
        [20.0, 20.0, 20.0, 20.0],  # empty
        [30.0, 25.0, 22.0, 12.0],  # x2 < x1, y2 < y1
        [0.0, 0.0, float(w), float(h)],  # the whole image
    ]
    index = rng.integers(0, batch, len(rows))
    return np.concatenate([index[:, None], np.array(rows)], axis=1)


ALIGN_CASES = [
    # output_size, spatial_scale, sampling_ratio, aligned
    ((3, 2), 0.25, 2, False),
    ((3, 2), 0.25, 2, True),
    ((2, 4), 0.25, 0, False),
    ((2, 4), 0.25, 0, True),
    (3, 0.25, -1, True),
    (1, 0.25, 1, False),
    (1, 0.25, 1, True),
    ((4, 3), 0.5, 3, True),
    ((3, 5), 0.5, 3, False),
    ((2, 3), 1.0, 0, False),
    ((2, 3), 1.0, 2, True),
    ((5, 4), 0.125, 4, False),
    (7, 0.25, 1, False),
]
FIXED_CASES = [case for case in ALIGN_CASES if case[2] > 0]


def _by(path: str):
    """``roi_align`` with its signature, by one path: ``"roi_align"`` (the choice it makes),
    ``"gathers"`` (fixed ``sampling_ratio`` only) or ``"matmuls"``."""
    if path == "roi_align":
        return roi_align
    method = {"gathers": "gather", "matmuls": "matmul"}[path]

    def align(features, rois, output_size, scale, sampling_ratio, aligned):
        return roi_align(features, rois, output_size, scale, sampling_ratio, aligned, method)

    return align


# --- RoIAlign ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, output_size, scale, sampling_ratio, aligned",
    [("roi_align", *case) for case in ALIGN_CASES]
    + [(path, *case) for path in ("gathers", "matmuls") for case in FIXED_CASES],
)
def test_roi_align_matches_the_torchvision_loop(path, output_size, scale, sampling_ratio, aligned):
    features, rois = _features(), _rois()
    align = _by(path)
    args = (output_size, scale, sampling_ratio, aligned)
    want = roi_align_reference(features, rois, *args)
    got = align(features, rois, *args).numpy()
    assert got.dtype == np.float64 and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=FLOAT64_ATOL)
    want32 = roi_align_reference(features.astype(np.float32), rois, *args, T=np.float32)
    got32 = align(features.astype(np.float32), rois.astype(np.float32), *args).numpy()
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want32, atol=FLOAT32_ATOL)


@pytest.mark.parametrize("aligned", [False, True])
def test_roi_align_on_a_large_map_takes_the_gathers(aligned):
    """A 2 x 48 x 56 map (the RoIs scaled up with it): fixed sampling goes through gathers,
    adaptive through matmuls, both as the loop says."""
    features, rois = _features(7, (2, 48, 56, 4)), _rois(7, image=(48, 56))
    assert gathers_are_cheaper([features.shape], 3, 2, 2)
    assert not gathers_are_cheaper([features.shape], 3, 2, 0)
    for sampling_ratio in (2, 0):
        want = roi_align_reference(features, rois, (3, 2), 1.0, sampling_ratio, aligned)
        got = roi_align(features, rois, (3, 2), 1.0, sampling_ratio, aligned).numpy()
        np.testing.assert_allclose(got, want, atol=FLOAT64_ATOL)


def test_the_path_choice_follows_the_map_size():
    """The crossover the module notes give: 7 x 7 bins, ratio 2, 256 channels, one image."""
    assert not gathers_are_cheaper([(1, 32, 32, 256)], 7, 7, 2)
    assert gathers_are_cheaper([(1, 64, 64, 256)], 7, 7, 2)
    assert gathers_are_cheaper([(None, None, None, 256)], 7, 7, 2)  # unknown: gathers
    assert not gathers_are_cheaper([(None, None, None, 256)], 7, 7, 0)  # adaptive: matmuls
    pyramid = [(1, 64 >> i, 64 >> i, 256) for i in range(4)]
    assert gathers_are_cheaper(pyramid, 7, 7, 2)  # one gather vs a matmul per level


@pytest.mark.parametrize("path", ["gathers", "matmuls"])
def test_roi_align_with_no_rois(path):
    features = _features()
    for sampling_ratio in (2, 0) if path == "matmuls" else (2,):
        got = _by(path)(features, np.zeros((0, 5)), (3, 2), 0.25, sampling_ratio, True)
        assert got.shape == (0, 3, 2, 3)


@pytest.mark.parametrize("path", ["gathers", "matmuls"])
@pytest.mark.parametrize("dtype, atol", [(tf.float16, 2e-3), (tf.bfloat16, 2e-2)])
def test_roi_align_in_half_precision(path, dtype, atol):
    """Half-precision features give half-precision results; the coordinates stay float32."""
    features, rois = tf.cast(_features(), dtype), _rois().astype(np.float32)
    got = _by(path)(features, rois, (3, 2), 0.25, 2, True)
    assert got.dtype == dtype
    want = roi_align_reference(tf.cast(features, tf.float64).numpy(), rois, (3, 2), 0.25, 2, True)
    np.testing.assert_allclose(tf.cast(got, tf.float64).numpy(), want, atol=atol)


def test_roi_align_adaptive_sampling_has_no_cap():
    """A RoI 100 feature pixels tall over a 6-pixel map: ceil(100 / 2) = 50 samples per bin,
    almost all outside; only those near the map count, but all count in the mean."""
    features = _features(1, (1, 6, 5, 2))
    rois = np.array([[0, -40.0, -47.0, 45.0, 53.0], [0, 1.0, -300.0, 4.0, 2.0]])
    for aligned in (False, True):
        want = roi_align_reference(features, rois, 2, 1.0, 0, aligned)
        np.testing.assert_allclose(
            roi_align(features, rois, 2, 1.0, 0, aligned).numpy(), want, atol=FLOAT64_ATOL
        )
        assert np.abs(want).max() > 0


@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_align_in_a_graph_with_unknown_sizes(sampling_ratio):
    features, rois = _features(), _rois()
    fn = tf.function(
        lambda f, r: roi_align(f, r, (3, 2), 0.25, sampling_ratio, True),
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float64),
            tf.TensorSpec([None, 5], tf.float64),
        ],
    )
    want = roi_align_reference(features, rois, (3, 2), 0.25, sampling_ratio, True)
    np.testing.assert_allclose(fn(features, rois).numpy(), want, atol=FLOAT64_ATOL)


@pytest.mark.parametrize(
    "path, sampling_ratio, aligned",
    [("matmuls", 2, False), ("matmuls", 0, True), ("gathers", 2, False), ("gathers", 3, True)],
)
def test_roi_align_gradient(path, sampling_ratio, aligned):
    features = _features(2, (2, 5, 6, 2))
    rois = np.array([[0, 1.0, 2.0, 9.0, 15.0], [1, -3.0, 4.0, 30.0, 10.0], [1, 5.0, 5.0, 6.0, 6.5]])
    align = _by(path)

    @tf.function
    def f(x):
        return align(x, rois, (2, 3), 0.5, sampling_ratio, aligned)

    theoretical, numerical = tf.test.compute_gradient(f, [tf.constant(features)])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-7)
    assert np.abs(theoretical[0]).max() > 0


# --- RoIPool ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output_size, scale", [((3, 2), 0.25), (2, 0.25), ((4, 5), 0.5), (1, 0.25), ((2, 3), 1.0)]
)
def test_roi_pool_matches_the_torchvision_loop(output_size, scale):
    features, rois = _features(), _rois()
    want = roi_pool_reference(features, rois, output_size, scale)
    got = roi_pool(features, rois, output_size, scale).numpy()
    np.testing.assert_allclose(got, want, atol=FLOAT64_ATOL)
    want32 = roi_pool_reference(features.astype(np.float32), rois, output_size, scale, np.float32)
    got32 = roi_pool(features.astype(np.float32), rois.astype(np.float32), output_size, scale)
    np.testing.assert_allclose(got32.numpy(), want32, atol=FLOAT32_ATOL)


def test_roi_pool_rounds_halves_away_from_zero_and_zeroes_empty_bins():
    features = np.arange(2 * 8 * 8 * 1, dtype=np.float64).reshape(2, 8, 8, 1)
    # Corners 2.5 -> 3 and 4.5 -> 5 (round-half-even: 2 and 4), so the first bin covers rows
    # and columns 3..4, not 2..3. The RoI starting past the map's last row/column has only
    # empty bins.
    rois = np.array([[0, 10.0, 10.0, 18.0, 18.0], [1, 34.0, 30.0, 50.0, 40.0]])
    got = roi_pool(features, rois, 2, 0.25).numpy()
    np.testing.assert_allclose(got, roi_pool_reference(features, rois, 2, 0.25))
    assert got[0, 0, 0, 0] == features[0, 4, 4, 0]
    assert np.all(got[1] == 0)
    # Just under a half: float32 floor(x + 0.5) would round 0.49999997 up to 1.
    below_half = 4 * float(np.nextafter(np.float32(0.5), np.float32(0)))
    rois = np.array([[0, below_half, below_half, 18.0, 18.0]], np.float32)
    got = roi_pool(features.astype(np.float32), rois, 2, 0.25).numpy()
    assert got[0, 0, 0, 0] == features[0, 2, 2, 0]


def test_roi_pool_gradient_reaches_each_bin_maximum():
    rng = np.random.default_rng(3)
    features = (rng.permutation(2 * 5 * 6 * 2) * 0.1).reshape(2, 5, 6, 2)  # no ties
    rois = np.array([[0, 1.0, 2.0, 9.0, 15.0], [1, -3.0, 4.0, 30.0, 10.0], [1, 5.0, 5.0, 6.0, 6.5]])

    @tf.function
    def f(x):
        return roi_pool(x, rois, (2, 3), 0.5)

    theoretical, numerical = tf.test.compute_gradient(f, [tf.constant(features)])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-7)
    assert np.abs(theoretical[0]).max() > 0


# --- FPN --------------------------------------------------------------------------------------


def test_assign_fpn_levels_matches_the_level_mapper():
    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 500, (40, 2))
    wh = np.exp(rng.uniform(np.log(2), np.log(1500), (40, 2)))
    exact = [[0, 0, s, s] for s in (56, 112, 224, 448, 896, 111.9, 224.1)]
    degenerate = [[5, 5, 5, 9], [10, 10, 4, 20], [0, 0, 1e-3, 1e-3]]
    boxes = np.concatenate([np.concatenate([xy, xy + wh], 1), exact, degenerate])
    for dtype in (np.float32, np.float64):
        got = assign_fpn_levels(boxes.astype(dtype)).numpy()
        np.testing.assert_array_equal(got, fpn_levels_reference(boxes))
    np.testing.assert_array_equal(
        assign_fpn_levels(np.array(exact, np.float32)).numpy(), [2, 3, 4, 5, 5, 2, 4]
    )
    got = assign_fpn_levels(boxes, min_level=3, max_level=6, canonical_size=100, canonical_level=5)
    np.testing.assert_array_equal(got.numpy(), fpn_levels_reference(boxes, 3, 6, 100, 5))


def _pyramid(seed=5, batch=2, size=64, channels=3, levels=(2, 3, 4, 5)):
    rng = np.random.default_rng(seed)
    return {
        f"P{level}": rng.normal(size=(batch, size >> level, size >> level, channels))
        for level in levels
    }


def _pyramid_rois(seed=6, n=24, size=64, batch=2):
    rng = np.random.default_rng(seed)
    side = np.exp(rng.uniform(np.log(2), np.log(60), (n, 2)))
    xy = rng.uniform(-5, size - 5, (n, 2))
    return np.concatenate([rng.integers(0, batch, (n, 1)), xy, xy + side], axis=1)


@pytest.mark.parametrize("sampling_ratio, aligned", [(2, False), (0, True)])
def test_multilevel_roi_align_pools_each_roi_from_its_level(sampling_ratio, aligned):
    pyramid, rois = _pyramid(), _pyramid_rois()
    kwargs = dict(sampling_ratio=sampling_ratio, aligned=aligned, canonical_size=16)
    got = multilevel_roi_align(pyramid, rois, (3, 2), **kwargs).numpy()
    levels = fpn_levels_reference(rois[:, 1:], 2, 5, 16, 4)
    assert set(levels) == {2, 3, 4, 5}
    for k, level in enumerate(levels):
        want = roi_align(
            pyramid[f"P{level}"], rois[k : k + 1], (3, 2), 0.5**level, sampling_ratio, aligned
        )
        np.testing.assert_allclose(got[k], want.numpy()[0], atol=FLOAT64_ATOL)
    reordered = {key: pyramid[key] for key in ("P4", "P2", "P5", "P3")}  # order is irrelevant
    got_reordered = multilevel_roi_align(reordered, rois, (3, 2), **kwargs)
    np.testing.assert_allclose(got_reordered.numpy(), got, atol=FLOAT64_ATOL)
    three = {f"P{level}": pyramid[f"P{level}"] for level in (3, 4, 5)}  # levels clip to 3..5
    got3 = multilevel_roi_align(three, rois, (3, 2), **kwargs).numpy()
    for k, level in enumerate(np.maximum(levels, 3)):
        want = roi_align(
            three[f"P{level}"], rois[k : k + 1], (3, 2), 0.5**level, sampling_ratio, aligned
        )
        np.testing.assert_allclose(got3[k], want.numpy()[0], atol=FLOAT64_ATOL)


@pytest.mark.parametrize(
    "sampling_ratio, aligned, size, levels, gathers",
    [
        (2, False, 64, (2, 3, 4, 5), True),  # one gather pass over the stacked levels
        (2, True, 64, (2, 3, 4, 5), True),
        (3, True, 16, (2, 3, 4), False),  # 4 x 4 to 1 x 1 maps: a matmul per level is cheaper
        (0, False, 64, (2, 3, 4, 5), False),  # adaptive: a matmul per level
    ],
)
def test_multilevel_roi_align_matches_the_loop_on_each_roi_level(
    sampling_ratio, aligned, size, levels, gathers
):
    pyramid, rois = _pyramid(size=size, levels=levels), _pyramid_rois(size=size)
    shapes = [m.shape for m in pyramid.values()]
    assert gathers_are_cheaper(shapes, 3, 2, sampling_ratio) == gathers
    got = multilevel_roi_align(pyramid, rois, (3, 2), sampling_ratio, aligned, canonical_size=16)
    target = fpn_levels_reference(rois[:, 1:], levels[0], levels[-1], 16, 4)
    assert len(set(target)) >= 3
    for k, level in enumerate(target):
        scale = 0.5**level
        want = roi_align_reference(
            pyramid[f"P{level}"], rois[k : k + 1], (3, 2), scale, sampling_ratio, aligned
        )
        np.testing.assert_allclose(got.numpy()[k], want[0], atol=FLOAT64_ATOL)


def test_multilevel_roi_align_in_a_graph_with_unknown_sizes():
    pyramid, rois = _pyramid(), _pyramid_rois()
    want = multilevel_roi_align(pyramid, rois, (3, 2), 2, True, canonical_size=16)
    spec = {key: tf.TensorSpec([None, None, None, 3], tf.float64) for key in pyramid}
    fn = tf.function(
        lambda p, r: multilevel_roi_align(p, r, (3, 2), 2, True, canonical_size=16),
        input_signature=[spec, tf.TensorSpec([None, 5], tf.float64)],
    )
    np.testing.assert_allclose(fn(pyramid, rois).numpy(), want.numpy(), atol=FLOAT64_ATOL)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [roi_align, roi_pool])
def test_bad_arguments_raise_clear_errors(op):
    features, rois = _features(), _rois()
    with pytest.raises(ValueError, match="output_size"):
        op(features, rois, 0, 0.25)
    with pytest.raises(ValueError, match="output_size"):
        op(features, rois, (2, -1), 0.25)
    with pytest.raises(ValueError, match="output_size"):
        op(features, rois, (2, 2, 2), 0.25)
    with pytest.raises(ValueError, match="spatial_scale"):
        op(features, rois, 2, 0.0)
    with pytest.raises(ValueError, match="spatial_scale"):
        op(features, rois, 2, -0.25)
    with pytest.raises(ValueError, match=r"rois must have shape \[K, 5\]"):
        op(features, rois[:, 1:], 2, 0.25)
    with pytest.raises(ValueError, match=r"rois must have shape \[K, 5\]"):
        op(features, rois[0], 2, 0.25)
    with pytest.raises(ValueError, match=r"features must have shape \[B, H, W, C\]"):
        op(features[0], rois, 2, 0.25)
    with pytest.raises(ValueError, match="float"):
        op(features.astype(np.int32), rois, 2, 0.25)


def test_bad_arguments_for_sampling_levels_and_pyramids():
    features, rois = _features(), _rois()
    with pytest.raises(ValueError, match="sampling_ratio"):
        roi_align(features, rois, 2, 0.25, sampling_ratio=1.5)
    with pytest.raises(ValueError, match="min_level"):
        assign_fpn_levels(rois[:, 1:], min_level=5, max_level=2)
    with pytest.raises(ValueError, match="canonical_size"):
        assign_fpn_levels(rois[:, 1:], canonical_size=0)
    with pytest.raises(ValueError, match=r"boxes must have shape \[K, 4\]"):
        assign_fpn_levels(rois)
    pyramid = _pyramid()
    with pytest.raises(ValueError, match="consecutive"):
        multilevel_roi_align({"P2": pyramid["P2"], "P4": pyramid["P4"]}, rois, 2)
    for key in ("fine", 2, "C2", "fpn_P2"):  # one convention: "P<level>"
        with pytest.raises(ValueError, match="level keys are 'P' followed by the level"):
            multilevel_roi_align({key: pyramid["P2"]}, rois, 2)
    with pytest.raises(ValueError, match="dict of maps keyed by level"):
        multilevel_roi_align(list(pyramid.values()), rois, 2)
    with pytest.raises(ValueError, match="same dtype"):
        multilevel_roi_align({**pyramid, "P3": pyramid["P3"].astype(np.float32)}, rois, 2)
    with pytest.raises(ValueError, match="static feature height"):
        tf.function(
            lambda f: roi_pool(f, rois, 2, 0.25),
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float64)],
        ).get_concrete_function()
