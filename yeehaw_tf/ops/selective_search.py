"""Class-agnostic region proposals by selective search (Uijlings et al., IJCV 2013), the
proposals of R-CNN (Girshick et al., 2014) and Fast R-CNN.

Plain NumPy (and ``scipy.ndimage`` for the Gaussian filters), deterministic given a seed:

1. :func:`graph_segmentation` over-segments the image: the graph-based method of Felzenszwalb
   & Huttenlocher (IJCV 2004) on the 8-connected pixel grid, edge weight the Euclidean colour
   distance after a Gaussian blur of width ``sigma``; two components merge when the edge is
   lighter than both internal differences plus ``scale / size``; components under
   ``min_size`` pixels are then merged along the lightest edges. It is computed exactly as
   ``skimage.segmentation.felzenszwalb`` computes it (same blur, edge order, float32
   thresholds and labels numbered in raster order of each segment's first pixel), so the two
   return equal labels -- the tests check it; ``scale`` is on the 0..255 intensity scale.
2. Hierarchical grouping, one hierarchy per *strategy* (a colour space, a ``scale`` and a
   similarity combination): start from the segments, repeatedly merge the most similar pair
   of 4-neighbouring regions until one region is left. Similarities, each in [0, 1], summed
   over the combination's letters:

   - ``C`` colour: intersection of colour histograms (25 bins per channel, L1-normalised);
   - ``T`` texture: intersection of histograms (10 bins) of Gaussian derivatives (sigma 1) in
     8 orientations per channel, L1-normalised. The simplification: the derivative in
     direction ``theta`` is ``cos(theta) Ix + sin(theta) Iy``, half-wave rectified (so the 8
     directions 45 degrees apart are distinct), binned over ``[0, m]`` with ``m`` the
     largest response of that channel in the image;
   - ``S`` size: ``1 - (size_i + size_j) / size_image`` (small regions merge first);
   - ``F`` fill: ``1 - (size(box_ij) - size_i - size_j) / size_image``.

   A merged region's histograms are the size-weighted average of its parts' (as the paper).
3. Every region of every hierarchy (the segments and each merge) gives its bounding box.
   Ranking as the paper: in each hierarchy, region ``r`` of ``n`` (in the order they were
   created, segments first) gets ``(n - r) * u`` with ``u ~ U[0, 1)`` drawn from
   ``np.random.default_rng(seed)``; all boxes are sorted by that value (ascending: the whole
   image and the late merges tend to come first), duplicates keep their best rank, and the
   first ``max_proposals`` are returned.

Boxes are ``[N, 4]`` float32 ``xyxy`` pixel edges with exclusive far edges, the ``xyxy``
format of :mod:`yeehaw_tf.ops.boxes`: a region covering columns 3..7 and rows 0..1 gives
``(3, 0, 8, 2)``; every box lies inside ``[0, W] x [0, H]``.

Modes (:data:`MODES`) are the paper's diversification presets: ``single`` (HSV, ``k`` 100,
``CTSF``: one hierarchy), ``fast`` (HSV and Lab, ``k`` 50 and 100, ``CTSF`` and ``TSF``: 8
hierarchies) and ``quality`` (HSV, Lab, rgI, H and I, ``k`` 50, 100, 150 and 300, ``CTSF``,
``TSF``, ``F`` and ``S``: 80 hierarchies), all with ``sigma`` 0.8. Sized for small images: the
authors' code sets ``min_size = k`` (50 to 300 pixels, fine on ~500 x 375 PASCAL images), which
on a 64 x 64 image would swallow an 8 x 8 object; here ``min_size`` is 10 pixels. Any part can
be overridden (``min_size``, ``sigma``, ``colour_spaces``, ``scales``, ``similarities``).
Recall on ``shapes/64x64``: ``benchmarks/proposals.py``.
"""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np
from scipy import ndimage

from yeehaw_tf.ops.boxes import iou

COLOUR_SPACES = ("rgb", "hsv", "lab", "rgi", "h", "i")
COLOUR_BINS = 25
TEXTURE_BINS = 10
ORIENTATIONS = 8


@dataclasses.dataclass(frozen=True)
class SearchSpec:
    """A diversification preset: one hierarchy per (colour space, scale, similarity)."""

    colour_spaces: tuple[str, ...]
    scales: tuple[float, ...]
    similarities: tuple[str, ...]
    sigma: float = 0.8
    min_size: int = 10


MODES = {  # the paper's presets, but min_size 10 pixels where the authors' code has k
    "single": SearchSpec(("hsv",), (100.0,), ("CTSF",)),
    "fast": SearchSpec(("hsv", "lab"), (50.0, 100.0), ("CTSF", "TSF")),
    "quality": SearchSpec(
        ("hsv", "lab", "rgi", "h", "i"), (50.0, 100.0, 150.0, 300.0), ("CTSF", "TSF", "F", "S")
    ),
}


# ------------------------------------------------------------------------------------------
# Graph-based segmentation (Felzenszwalb & Huttenlocher 2004)


def _roots(parent: list[int]) -> np.ndarray:
    """The root of every node of a union-find forest."""
    roots = np.array(parent)
    while True:
        up = roots[roots]
        if np.array_equal(up, roots):
            return roots
        roots = up


def graph_segmentation(image, scale: float, sigma: float = 0.8, min_size: int = 20) -> np.ndarray:
    """Felzenszwalb-Huttenlocher segmentation of ``image`` (``[H, W]`` or ``[H, W, C]``; uint8,
    or floats on the 0..1 scale) into ``int64 [H, W]`` labels ``0..K-1``, numbered in raster
    order of each segment's first pixel. Equal to ``skimage.segmentation.felzenszwalb(image,
    scale, sigma, min_size)``; ``scale`` (the paper's ``k``) is on the 0..255 scale."""
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must have shape [H, W] or [H, W, C], got {image.shape}")
    if image.dtype != np.uint8 and not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"image must be uint8 or floating point, got dtype {image.dtype}")
    if image.dtype != np.uint8 and not np.isfinite(image).all():
        raise ValueError("image must hold finite values (it has NaN or infinity)")
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale}")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a non-negative number, got {sigma}")
    if isinstance(min_size, bool) or not isinstance(min_size, int | np.integer) or min_size < 0:
        raise ValueError(f"min_size must be a non-negative integer, got {min_size!r}")
    if image.ndim == 2:
        image = image[..., None]
    if image.dtype == np.uint8:  # as skimage.img_as_float64
        pixels = np.multiply(image, 1.0 / 255, dtype=np.float64)
    else:
        pixels = image.astype(np.float64)
    pixels = ndimage.gaussian_filter(pixels, sigma=(sigma, sigma, 0), mode="reflect")
    height, width = pixels.shape[:2]
    index = np.arange(height * width).reshape(height, width)
    # 8-connectivity, in skimage's order: right, down, down-right, up-right
    pairs = [
        ((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
        ((slice(1, None), slice(None)), (slice(None, -1), slice(None))),
        ((slice(1, None), slice(1, None)), (slice(None, -1), slice(None, -1))),
        ((slice(None, -1), slice(1, None)), (slice(1, None), slice(None, -1))),
    ]
    costs = np.hstack(
        [np.sqrt(np.sum((pixels[a] - pixels[b]) ** 2, axis=-1)).ravel() for a, b in pairs]
    )
    first = np.hstack([index[a].ravel() for a, _ in pairs])
    second = np.hstack([index[b].ravel() for _, b in pairs])
    order = np.argsort(costs)  # the default sort, as skimage: ties fall the same way
    first, second, costs = first[order], second[order], costs[order]

    # Union-find, the smaller index the root (as skimage), so labels come out in raster order.
    # The finds are inlined: this loop is most of the time selective search takes.
    parent = list(range(height * width))
    size = [1] * (height * width)
    internal = [0.0] * (height * width)
    k = float(scale) / 255.0
    # skimage holds the thresholds in float32: a weight outside t (1 -+ 2^-23) is decided
    # without rounding t, one inside by comparing with float32(t)
    below, above = 1.0 - 2.0**-23, 1.0 + 2.0**-23
    for p, q, weight in zip(first.tolist(), second.tolist(), costs.tolist(), strict=True):
        a = parent[p]
        if parent[a] != a:  # path compression: every node on the way now points to the root
            while parent[a] != a:
                a = parent[a]
            while parent[p] != a:
                parent[p], p = a, parent[p]
        b = parent[q]
        if parent[b] != b:
            while parent[b] != b:
                b = parent[b]
            while parent[q] != b:
                parent[q], q = b, parent[q]
        if a == b:
            continue
        ta, tb = internal[a] + k / size[a], internal[b] + k / size[b]
        t = ta if ta < tb else tb
        if weight < t * below or (weight < t * above and weight < float(np.float32(t))):
            a, b = (a, b) if a < b else (b, a)
            parent[b] = a
            size[a] += size[b]
            internal[a] = weight
    if min_size > 1:  # only edges between components can merge: walk those, in order
        roots = _roots(parent)
        cross = roots[first] != roots[second]
        parent = roots.tolist()
        for p, q in zip(first[cross].tolist(), second[cross].tolist(), strict=True):
            a, b = parent[p], parent[q]
            while parent[a] != a:
                a = parent[a]
            while parent[b] != b:
                b = parent[b]
            while parent[p] != a:
                parent[p], p = a, parent[p]
            while parent[q] != b:
                parent[q], q = b, parent[q]
            if a != b and (size[a] < min_size or size[b] < min_size):
                a, b = (a, b) if a < b else (b, a)
                parent[b] = a
                size[a] += size[b]
    roots = _roots(parent)
    return np.unique(roots, return_inverse=True)[1].reshape(height, width).astype(np.int64)


# ------------------------------------------------------------------------------------------
# Colour spaces, each channel scaled to [0, 1]


def colour_space(image: np.ndarray, name: str) -> np.ndarray:
    """``uint8 [H, W, 3]`` RGB as float64 ``[H, W, C]`` in ``name`` (one of
    :data:`COLOUR_SPACES`), every channel on [0, 1]: ``hsv`` (hue / 360), ``lab`` (sRGB, D65;
    ``L / 100`` and ``(a + 128) / 255``, ``(b + 128) / 255``), ``rgi`` (normalised r, g and the
    intensity), ``h`` (hue alone), ``i`` (intensity alone)."""
    if name not in COLOUR_SPACES:
        raise ValueError(f"colour space must be one of {', '.join(COLOUR_SPACES)}, got {name!r}")
    rgb = image.astype(np.float64) / 255.0
    if name == "rgb":
        return rgb
    if name in ("hsv", "h"):
        top, bottom = rgb.max(axis=-1), rgb.min(axis=-1)
        spread = top - bottom
        safe = np.where(spread > 0, spread, 1.0)
        r, g, b = np.moveaxis(rgb, -1, 0)
        hue = np.where(
            top == r,
            ((g - b) / safe) % 6,
            np.where(top == g, (b - r) / safe + 2, (r - g) / safe + 4),
        )
        hue = np.where(spread > 0, hue / 6.0, 0.0)
        if name == "h":
            return hue[..., None]
        saturation = np.where(top > 0, spread / np.where(top > 0, top, 1.0), 0.0)
        return np.stack([hue, saturation, top], axis=-1)
    if name == "lab":
        linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        to_xyz = np.array(
            [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
             [0.019334, 0.119193, 0.950227]]
        )  # fmt: skip
        xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
        f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
        lab = np.stack(
            [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
            axis=-1,
        )
        return np.clip((lab + [0.0, 128.0, 128.0]) / [100.0, 255.0, 255.0], 0.0, 1.0)
    total = rgb.sum(axis=-1)
    intensity = total / 3.0
    if name == "i":
        return intensity[..., None]
    safe = np.where(total > 0, total, 1.0)
    r = np.where(total > 0, rgb[..., 0] / safe, 1 / 3)
    g = np.where(total > 0, rgb[..., 1] / safe, 1 / 3)
    return np.stack([r, g, intensity], axis=-1)  # rgi


# ------------------------------------------------------------------------------------------
# Region features and hierarchical grouping


def _histograms(labels: np.ndarray, bins: np.ndarray, per_channel: int, count: int) -> np.ndarray:
    """L1-normalised histograms ``[count, D]`` of the bin indices ``bins [H, W, G]`` (group
    ``g`` uses bins ``g * per_channel ...``) over each label's pixels."""
    groups = bins.shape[-1]
    flat = labels.reshape(-1, 1) * (groups * per_channel) + (
        np.arange(groups) * per_channel + bins.reshape(-1, groups)
    )
    histogram = np.bincount(flat.ravel(), minlength=count * groups * per_channel).astype(float)
    histogram = histogram.reshape(count, groups * per_channel)
    return histogram / histogram.sum(axis=1, keepdims=True)


def _texture_bins(image: np.ndarray) -> np.ndarray:
    """``int [H, W, C * 8]``: the bin (of 10) of each rectified oriented Gaussian derivative."""
    channels = []
    for c in range(image.shape[-1]):
        dy = ndimage.gaussian_filter(image[..., c], 1.0, order=(1, 0), mode="reflect")
        dx = ndimage.gaussian_filter(image[..., c], 1.0, order=(0, 1), mode="reflect")
        angles = np.arange(ORIENTATIONS) * (2 * np.pi / ORIENTATIONS)
        response = np.maximum(dx[..., None] * np.cos(angles) + dy[..., None] * np.sin(angles), 0)
        top = response.max()
        scaled = response / top if top > 0 else response
        channels.append(np.minimum((scaled * TEXTURE_BINS).astype(np.int64), TEXTURE_BINS - 1))
    return np.concatenate(channels, axis=-1)


@dataclasses.dataclass
class _Regions:
    """Features of every region, the merged ones appended as they are created."""

    size: np.ndarray  # [capacity] pixels
    box: np.ndarray  # [capacity, 4] xyxy, far edges exclusive
    colour: np.ndarray  # [capacity, 25 C]
    texture: np.ndarray  # [capacity, 80 C]

    def copy(self) -> _Regions:
        return _Regions(self.size.copy(), self.box.copy(), self.colour.copy(), self.texture.copy())


def _colour_bins(image: np.ndarray) -> np.ndarray:
    """``int [H, W, C]``: the bin (of 25) of each channel value in [0, 1]."""
    return np.minimum((image * COLOUR_BINS).astype(np.int64), COLOUR_BINS - 1)


def _initial_regions(labels: np.ndarray, colour_bins: np.ndarray, texture_bins) -> _Regions:
    count = int(labels.max()) + 1
    capacity = 2 * count - 1
    channels = colour_bins.shape[-1]
    size = np.zeros(capacity)
    size[:count] = np.bincount(labels.ravel(), minlength=count)
    box = np.zeros((capacity, 4))
    for i, (rows, cols) in enumerate(ndimage.find_objects(labels + 1)):
        box[i] = cols.start, rows.start, cols.stop, rows.stop
    colour = np.zeros((capacity, COLOUR_BINS * channels))
    colour[:count] = _histograms(labels, colour_bins, COLOUR_BINS, count)
    texture = np.zeros((capacity, TEXTURE_BINS * ORIENTATIONS * channels))
    texture[:count] = _histograms(labels, texture_bins, TEXTURE_BINS, count)
    return _Regions(size, box, colour, texture)


def _neighbours(labels: np.ndarray) -> np.ndarray:
    """``[P, 2]`` pairs ``i < j`` of labels that touch (4-connectivity)."""
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    differ = a != b
    pairs = np.stack([np.minimum(a, b)[differ], np.maximum(a, b)[differ]], axis=1)
    return np.unique(pairs, axis=0)


def _similarity(regions: _Regions, i: np.ndarray, j: np.ndarray, letters: str, area: float):
    s = np.zeros(len(i))
    if "C" in letters:
        s += np.minimum(regions.colour[i], regions.colour[j]).sum(axis=1)
    if "T" in letters:
        s += np.minimum(regions.texture[i], regions.texture[j]).sum(axis=1)
    both = regions.size[i] + regions.size[j]
    if "S" in letters:
        s += 1.0 - both / area
    if "F" in letters:
        bi, bj = regions.box[i], regions.box[j]
        width = np.maximum(bi[:, 2], bj[:, 2]) - np.minimum(bi[:, 0], bj[:, 0])
        height = np.maximum(bi[:, 3], bj[:, 3]) - np.minimum(bi[:, 1], bj[:, 1])
        s += 1.0 - (width * height - both) / area
    return s


def _hierarchy(labels: np.ndarray, segments: _Regions, letters: str) -> np.ndarray:
    """Boxes ``[2K - 1, 4]`` of the segments then of each merge, in the order of creation."""
    regions = segments.copy()
    count = len(regions.size) // 2 + 1
    area = float(labels.size)
    pairs = _neighbours(labels)
    adjacent = [set() for _ in range(len(regions.size))]
    for i, j in pairs.tolist():
        adjacent[i].add(j)
        adjacent[j].add(i)
    heap = [
        (-s, i, j)
        for s, i, j in zip(
            _similarity(regions, pairs[:, 0], pairs[:, 1], letters, area).tolist(),
            pairs[:, 0].tolist(),
            pairs[:, 1].tolist(),
            strict=True,
        )
    ]
    heapq.heapify(heap)
    alive = [True] * count + [False] * (count - 1)
    new = count
    while heap:
        _, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]):
            continue
        si, sj = regions.size[i], regions.size[j]
        regions.size[new] = si + sj
        regions.colour[new] = (si * regions.colour[i] + sj * regions.colour[j]) / (si + sj)
        regions.texture[new] = (si * regions.texture[i] + sj * regions.texture[j]) / (si + sj)
        bi, bj = regions.box[i], regions.box[j]
        regions.box[new] = (
            min(bi[0], bj[0]),
            min(bi[1], bj[1]),
            max(bi[2], bj[2]),
            max(bi[3], bj[3]),
        )
        alive[i] = alive[j] = False
        alive[new] = True
        around = sorted((adjacent[i] | adjacent[j]) - {i, j})
        for n in around:
            adjacent[n] -= {i, j}
            adjacent[n].add(new)
        adjacent[new] = set(around)
        if around:
            others = np.array(around)
            scores = _similarity(regions, np.full(len(others), new), others, letters, area)
            for s, n in zip(scores.tolist(), around, strict=True):
                heapq.heappush(heap, (-s, n, new))
        new += 1
    return regions.box[:new]


# ------------------------------------------------------------------------------------------
# Public API


def _resolve(mode, min_size, colour_spaces, scales, similarities, sigma) -> SearchSpec:
    """The preset ``mode`` with the given parts replaced, every part checked."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    spec = MODES[mode]
    given = {"colour_spaces": colour_spaces, "scales": scales, "similarities": similarities}
    spec = dataclasses.replace(
        spec,
        **{k: (v,) if isinstance(v, str) else tuple(v) for k, v in given.items() if v is not None},
        **{k: v for k, v in {"min_size": min_size, "sigma": sigma}.items() if v is not None},
    )
    if not spec.colour_spaces or not set(spec.colour_spaces) <= set(COLOUR_SPACES):
        raise ValueError(
            f"colour_spaces must be a non-empty sequence of {COLOUR_SPACES}, got "
            f"{spec.colour_spaces!r}"
        )
    if not spec.scales or any(not np.isfinite(k) or k <= 0 for k in spec.scales):
        raise ValueError(
            f"scales must be a non-empty sequence of positive numbers, got {spec.scales!r}"
        )
    letters = spec.similarities
    if not letters or any(
        not isinstance(s, str) or not s or not set(s) <= set("CTSF") or len(set(s)) < len(s)
        for s in letters
    ):
        raise ValueError(
            f"similarities must be strings of distinct letters from 'CTSF', got {letters!r}"
        )
    if (
        isinstance(spec.min_size, bool)
        or not isinstance(spec.min_size, int | np.integer)
        or spec.min_size < 1
    ):
        raise ValueError(f"min_size must be a positive integer, got {spec.min_size!r}")
    return spec


def selective_search(
    image: np.ndarray,
    *,
    mode: str = "fast",
    max_proposals: int | None = 2000,
    min_size: int | None = None,
    seed: int = 0,
    colour_spaces: tuple[str, ...] | None = None,
    scales: tuple[float, ...] | None = None,
    similarities: tuple[str, ...] | None = None,
    sigma: float | None = None,
) -> np.ndarray:
    """Selective search proposals of one RGB ``image`` (``uint8 [H, W, 3]``): ``float32 [N,
    4]`` unique ``xyxy`` boxes (far edges exclusive), best ranked first, ``N <=
    max_proposals`` (``None``: all). ``mode`` picks a preset of :data:`MODES`; ``min_size``
    (pixels), ``sigma``, ``colour_spaces`` (of :data:`COLOUR_SPACES`), ``scales`` (the
    segmentation's ``k``) and ``similarities`` (strings of ``C``, ``T``, ``S``, ``F``) override
    its parts. The ranking's random numbers come from ``seed``: equal inputs give equal
    outputs."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must have shape [H, W, 3], got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got dtype {image.dtype}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image must be at least 2 x 2 pixels, got {image.shape[:2]}")
    if max_proposals is not None and (
        isinstance(max_proposals, bool)
        or not isinstance(max_proposals, int | np.integer)
        or max_proposals < 1
    ):
        raise ValueError(f"max_proposals must be a positive integer or None, got {max_proposals!r}")
    spec = _resolve(mode, min_size, colour_spaces, scales, similarities, sigma)

    rng = np.random.default_rng(seed)
    boxes, ranks = [], []
    for space in spec.colour_spaces:
        converted = colour_space(image, space)
        colour_bins, texture_bins = _colour_bins(converted), _texture_bins(converted)
        for k in spec.scales:
            labels = graph_segmentation(converted, k, spec.sigma, int(spec.min_size))
            segments = _initial_regions(labels, colour_bins, texture_bins)
            for letters in spec.similarities:
                hierarchy = _hierarchy(labels, segments, letters)
                boxes.append(hierarchy)
                ranks.append(np.arange(len(hierarchy), 0, -1) * rng.random(len(hierarchy)))
    boxes = np.concatenate(boxes)[np.argsort(np.concatenate(ranks), kind="stable")]
    _, first = np.unique(boxes, axis=0, return_index=True)  # each box at its best rank
    boxes = boxes[np.sort(first)]
    return boxes[:max_proposals].astype(np.float32)


def proposal_recall(proposals_per_image, gt_boxes_per_image, iou_threshold: float = 0.5) -> float:
    """Fraction of ground-truth boxes (over all images) that some proposal of the same image
    overlaps with IoU >= ``iou_threshold``. Both arguments are sequences, one ``[N_i, 4]`` /
    ``[K_i, 4]`` ``xyxy`` array per image; NaN when there are no ground-truth boxes."""
    proposals_per_image, gt_boxes_per_image = list(proposals_per_image), list(gt_boxes_per_image)
    if len(proposals_per_image) != len(gt_boxes_per_image):
        raise ValueError(
            "proposals_per_image and gt_boxes_per_image must have one entry per image, got "
            f"{len(proposals_per_image)} and {len(gt_boxes_per_image)}"
        )
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    found = total = 0
    for name, arrays in (
        ("proposals_per_image", proposals_per_image),
        ("gt_boxes_per_image", gt_boxes_per_image),
    ):
        for a in arrays:
            if np.ndim(a) != 2 or np.shape(a)[-1] != 4:
                raise ValueError(f"every entry of {name} must have shape [N, 4], got {np.shape(a)}")
    for proposals, gt in zip(proposals_per_image, gt_boxes_per_image, strict=True):
        gt = np.asarray(gt, dtype=np.float64)
        total += len(gt)
        if len(gt) and len(proposals):
            overlap = iou(gt, np.asarray(proposals, dtype=np.float64)).numpy()
            found += int((overlap.max(axis=1) >= iou_threshold).sum())
    return found / total if total else float("nan")
