"""Procedural scenes of coloured shapes with exact labels: the pixels, boxes and masks of `shapes`.

A scene is drawn on a noisy, randomly coloured background. Objects never overlap (a one-pixel gap
is kept between them), so every instance mask is the whole shape and every box is exact: the box
is the tight extent of the mask's pixels, in relative ``[ymin, xmin, ymax, xmax]`` coordinates with
the max edge exclusive (Keras's ``rel_yxyx`` format; multiply by the image size for ``yxyx``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

CLASS_NAMES = ("circle", "square", "triangle")


@dataclasses.dataclass(frozen=True)
class Scene:
    """One rendered scene. Arrays are numpy; ``boxes`` are relative yxyx, float32."""

    image: np.ndarray  # (S, S, 3) uint8
    boxes: np.ndarray  # (K, 4) float32, rel_yxyx
    labels: np.ndarray  # (K,) int64, index into CLASS_NAMES
    masks: np.ndarray  # (K, S, S) uint8 in {0, 1}
    semantic_mask: np.ndarray  # (S, S) uint8: 0 background, class index + 1 on objects

    @property
    def areas(self) -> np.ndarray:
        return self.masks.reshape(len(self.masks), -1).sum(axis=1).astype(np.int64)

    @property
    def label(self) -> int:
        """The class of the largest object (the first one on a tie)."""
        return int(self.labels[int(np.argmax(self.areas))])


def _shape_mask(kind: int, size: int, top: int, left: int, image_size: int) -> np.ndarray:
    """Rasterises one shape of the given extent by testing pixel centres."""
    ys, xs = np.mgrid[0:image_size, 0:image_size].astype(np.float64) + 0.5
    y, x = ys - top, xs - left  # coordinates inside the shape's size x size square
    inside_square = (y >= 0) & (y < size) & (x >= 0) & (x < size)
    if kind == 0:  # circle inscribed in the square
        r = size / 2.0
        return ((y - r) ** 2 + (x - r) ** 2 <= r * r).astype(np.uint8)
    if kind == 1:  # the square itself
        return inside_square.astype(np.uint8)
    # isosceles triangle, apex at the top centre, base on the bottom edge
    half_width = (y / size) * (size / 2.0)
    return (inside_square & (np.abs(x - size / 2.0) <= half_width)).astype(np.uint8)


def _object_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    while True:
        colour = rng.integers(0, 256, size=3)
        if np.abs(colour - background).sum() >= 180:
            return colour


def render_scene(
    rng: np.random.Generator,
    image_size: int = 64,
    max_objects: int = 4,
    min_size: int | None = None,
    max_size: int | None = None,
    noise_std: float = 8.0,
    occlusion: bool = False,
    min_visible: float = 0.3,
) -> Scene:
    """Draws one scene with between 1 and ``max_objects`` shapes: non-overlapping by default;
    with ``occlusion`` shapes are placed anywhere and each is drawn over the earlier ones, whose
    masks and boxes then cover only their *visible* pixels (as COCO annotates). A shape left
    with less than ``min_visible`` of its pixels (or none) is erased (its visible pixels
    repainted with the background), so every object pixel in the image is labelled."""
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    if max_objects < 1:
        raise ValueError(f"max_objects must be at least 1, got {max_objects}")
    min_size = min_size or max(4, image_size // 8)
    max_size = max_size or max(min_size, image_size // 3)
    if not 1 <= min_size <= max_size <= image_size:
        raise ValueError(
            f"need 1 <= min_size <= max_size <= image_size, got {min_size}, {max_size}, "
            f"{image_size}"
        )

    background = rng.integers(0, 120, size=3)
    image = np.broadcast_to(background, (image_size, image_size, 3)).astype(np.float64)
    image = image + rng.normal(0.0, noise_std, size=image.shape)
    empty = image.copy()  # the background alone

    occupied = np.zeros((image_size, image_size), dtype=bool)
    masks, labels, full_areas = [], [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(30):
            kind = int(rng.integers(0, len(CLASS_NAMES)))
            size = int(rng.integers(min_size, max_size + 1))
            top = int(rng.integers(0, image_size - size + 1))
            left = int(rng.integers(0, image_size - size + 1))
            mask = _shape_mask(kind, size, top, left, image_size)
            grown = np.zeros_like(occupied)  # the mask dilated by one pixel: keeps a gap
            padded = np.pad(mask.astype(bool), 1)
            for dy in (0, 1, 2):
                for dx in (0, 1, 2):
                    grown |= padded[dy : dy + image_size, dx : dx + image_size]
            if mask.any() and (occlusion or not (grown & occupied).any()):
                break
        else:
            continue  # no room left for this object
        occupied |= mask.astype(bool)
        image[mask.astype(bool)] = _object_colour(rng, background)
        for earlier in masks:  # a later shape hides what it covers
            earlier[mask.astype(bool)] = 0
        masks.append(mask.copy())
        full_areas.append(int(mask.sum()))
        labels.append(kind)

    if occlusion:
        # the last shape is whole, so at least one is kept
        keep = [
            i for i, m in enumerate(masks) if m.sum() > 0 and m.sum() >= min_visible * full_areas[i]
        ]
        for i in sorted(set(range(len(masks))) - set(keep)):  # erased: no unlabelled clutter
            image[masks[i].astype(bool)] = empty[masks[i].astype(bool)]
        masks, labels = [masks[i] for i in keep], [labels[i] for i in keep]
    masks_arr = np.stack(masks).astype(np.uint8)
    labels_arr = np.asarray(labels, dtype=np.int64)
    semantic = np.zeros((image_size, image_size), dtype=np.uint8)
    for mask, label in zip(masks_arr, labels_arr, strict=True):
        semantic[mask.astype(bool)] = label + 1
    return Scene(
        image=np.clip(np.round(image), 0, 255).astype(np.uint8),
        boxes=np.stack([mask_to_box(m) for m in masks_arr]).astype(np.float32),
        labels=labels_arr,
        masks=masks_arr,
        semantic_mask=semantic,
    )


def mask_to_box(mask: np.ndarray) -> np.ndarray:
    """Tight relative yxyx box of a non-empty (H, W) mask; max edges exclusive."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("mask_to_box needs a mask with at least one pixel set")
    height, width = mask.shape
    return np.array(
        [rows[0] / height, cols[0] / width, (rows[-1] + 1) / height, (cols[-1] + 1) / width],
        dtype=np.float64,
    )
