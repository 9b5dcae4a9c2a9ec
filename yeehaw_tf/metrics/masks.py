"""Instance masks for COCO evaluation: input checks, mask IoU and COCO run-length encoding.

Plain NumPy, written from the definitions in ``pycocotools``'s ``maskApi.c`` (``rleEncode``,
``rleToString``, ``rleIou``, ``rleArea``); ``pycocotools`` is the reference in the tests only.
A mask is a ``[H, W]`` binary array; the masks of one image are ``[n, H, W]``.
"""

from __future__ import annotations

import numpy as np

# Largest float64 block (in elements) that :func:`mask_iou` converts at once: 64 MiB.
_BLOCK_ELEMENTS = 2**23


def check_masks(value, where: str) -> np.ndarray:
    """``value`` (bool or 0/1 numbers) as a bool ``[n, H, W]`` array; ``where`` names it in
    errors (``"ground_truth[3]['masks']"``)."""
    try:
        masks = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where} must be a [n, H, W] binary array: {error}") from None
    if masks.ndim != 3:
        raise ValueError(
            f"{where} must have shape [n, H, W] (one mask per instance, an image without any "
            f"as [0, H, W]); got {masks.shape}"
        )
    if masks.dtype != bool:
        if not np.issubdtype(masks.dtype, np.number) or not np.all((masks == 0) | (masks == 1)):
            raise ValueError(f"{where} must be binary (bool, or numbers 0 and 1)")
        masks = masks != 0
    return masks


def _flat(masks: np.ndarray) -> np.ndarray:
    return masks.reshape(len(masks), int(np.prod(masks.shape[1:])))


def mask_area(masks: np.ndarray) -> np.ndarray:
    """``[n]`` pixel counts (float64) of ``[n, H, W]`` masks: ``pycocotools.mask.area``."""
    return _flat(masks).sum(axis=1, dtype=np.int64).astype(np.float64)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """``[n, 4]`` xyxy pixel extents (``x1, y1`` of the first pixel, ``x2, y2`` one past the
    last: ``pycocotools.mask.toBbox`` in xyxy); an empty mask gives ``[0, 0, 0, 0]``."""
    boxes = np.zeros((len(masks), 4))
    for i, mask in enumerate(masks):
        ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(xs):
            boxes[i] = [xs[0], ys[0], xs[-1] + 1, ys[-1] + 1]
    return boxes


def mask_iou(det_masks: np.ndarray, gt_masks: np.ndarray, iscrowd=None) -> np.ndarray:
    """``[D, G]`` IoU of bool ``[D, H, W]`` and ``[G, H, W]`` masks, as ``pycocotools.mask.iou``.

    Intersection over union of the pixel sets; for a crowd ground truth (``iscrowd [G]``) the
    union is the detection's own area. A pair with no common pixel (an empty mask included)
    has IoU 0. Intersections are one matrix product of the flattened masks in float64 (exact
    for any image under 2**53 pixels), made in blocks of detections so that the temporary
    float64 copies stay near ``(G + 64 MiB / 8 / (H * W)) * H * W * 8`` bytes; nothing of size
    ``D * G * H * W`` is formed.
    """
    if det_masks.shape[1:] != gt_masks.shape[1:]:
        raise ValueError(
            f"mask_iou: detection masks {det_masks.shape} and ground-truth masks "
            f"{gt_masks.shape} must share the image size [H, W]"
        )
    num_det, num_gt = len(det_masks), len(gt_masks)
    det, gt = _flat(det_masks), _flat(gt_masks)
    inter = np.zeros((num_det, num_gt))
    if num_det and num_gt and det.shape[1]:
        gt_t = gt.T.astype(np.float64)
        step = max(1, _BLOCK_ELEMENTS // det.shape[1])
        for start in range(0, num_det, step):
            inter[start : start + step] = det[start : start + step].astype(np.float64) @ gt_t
    det_area, gt_area = mask_area(det_masks)[:, None], mask_area(gt_masks)[None, :]
    crowd = np.zeros(num_gt, dtype=bool) if iscrowd is None else np.asarray(iscrowd, dtype=bool)
    union = np.where(crowd[None, :], det_area, det_area + gt_area - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)


def rle_counts(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE of one ``[H, W]`` mask: lengths of alternating runs of 0s and 1s
    in column-major (Fortran) order, starting with 0s (a leading 0 if the first pixel is
    set): ``rleEncode``."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return [0]
    edges = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]])
    counts = np.diff(edges).tolist()
    return [0] + counts if flat[0] else counts


def rle_string(counts: list[int]) -> str:
    """Compressed COCO RLE counts (``rleToString``): from the fourth count on, each is stored
    as the difference to the count two before; every number is written as LEB128-like 5-bit
    groups, least significant first, with a continuation bit, in ASCII characters 48-111."""
    chars = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift, as on the C long
            more = x != -1 if c & 0x10 else x != 0
            chars.append(chr((c | 0x20 if more else c) + 48))
    return "".join(chars)


def encode_rle(mask: np.ndarray, compressed: bool = True) -> dict:
    """One ``[H, W]`` mask as COCO RLE ``{"size": [H, W], "counts": ...}``: ``counts`` a string
    (compressed, what ``pycocotools.mask.encode`` gives and ``COCO.loadRes`` reads) or a list
    of ints (uncompressed, COCO's form for crowd ground truth)."""
    counts = rle_counts(mask)
    height, width = np.shape(mask)
    return {
        "size": [int(height), int(width)],
        "counts": rle_string(counts) if compressed else counts,
    }
