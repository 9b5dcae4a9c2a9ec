"""Which RoIAlign path is cheaper for given static map shapes (the cost model of the notes in
:mod:`yeehaw_tf.ops.roi`)."""

from __future__ import annotations

# Which path: both costs per RoI, in units of one gathered tap-channel (~1.5 ns on the CPU of
# the module notes), fitted to timings of both paths (fits within ~30%; the choice only ever
# changes the speed). The matmul path is memory-bound on its [K, out_h, W, C] intermediate.
SMALL_BMM = 32  # below (2 ratio)^2 C: bin sums elementwise, not as ~100 ns tiny matmuls


def path_costs(shape, out_h: int, out_w: int, ratio: int) -> tuple[float, float]:
    """``(gathers, matmuls)`` for one ``[B, H, W, C]`` map (``B`` unknown: 1)."""
    b, h, w, c = shape
    b, taps = b or 1, (2 * ratio) ** 2
    gathers = out_h * out_w * (taps * (c + 12) + (0 if taps * c < SMALL_BMM else 100))
    matmuls = out_h * w * c * (2 + b * h / 120) + 7 * ratio * (out_h * h + out_w * w)
    return gathers, matmuls + 3 * out_h * b * h


def gathers_are_cheaper(shapes, out_h: int, out_w: int, sampling_ratio: int) -> bool:
    """Whether one gather pass is cheaper than the matmul path on each map of ``shapes``
    (``[B, H, W, C]``; unknown ``H``, ``W`` or ``C``: gathers, whose cost does not grow with
    the map). Adaptive sampling always takes the matmul path."""
    if sampling_ratio <= 0:
        return False
    if any(None in (s[1], s[2], s[3]) for s in shapes):
        return True
    costs = [path_costs(tuple(s), out_h, out_w, sampling_ratio) for s in shapes]
    return costs[0][0] < sum(matmuls for _, matmuls in costs)
