"""How pyramid levels are keyed, everywhere in yeehaw_tf.

A *level* ``l`` is an int: the map at level ``l`` has stride ``2**l`` relative to the input
image. A map is always found in a dict under a string key, the level prefixed by its kind:

* ``"C<l>"`` (``"C2"`` .. ``"C5"``): backbone features, what a classifier built with
  ``features=True`` returns;
* ``"P<l>"`` (``"P2"`` .. ``"P7"``): pyramid (neck) outputs, what ``build_fpn`` /
  ``fpn_neck`` return, and what consumes them: ``pyramid_anchors`` returns its anchors under the
  same keys, ``multilevel_roi_align`` / ``MultiLevelRoIAlign`` take a dict of them.

Arguments that name a level by number (``min_level``, ``max_level``, ``canonical_level``, the
levels ``assign_fpn_levels`` returns) are ints; the key of level ``l`` is ``level_key(l)``.
This is TF Model Garden's convention. Keys compare as strings (``"P10" < "P2"``): order them
with :func:`sorted_levels`, never ``sorted(keys)``.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable

BACKBONE = "C"
PYRAMID = "P"
PREFIXES = (BACKBONE, PYRAMID)


def _check_prefix(prefix: str) -> None:
    if prefix not in PREFIXES:
        raise ValueError(f"level prefix must be one of {', '.join(PREFIXES)}, got {prefix!r}")


def level_key(level: int, prefix: str = PYRAMID) -> str:
    """The dict key of ``level``: ``level_key(3) == "P3"``, ``level_key(3, "C") == "C3"``."""
    _check_prefix(prefix)
    if isinstance(level, bool) or not isinstance(level, numbers.Integral) or level < 0:
        raise ValueError(f"a pyramid level must be an int >= 0, got {level!r}")
    return f"{prefix}{int(level)}"


def is_level_key(key, prefix: str = PYRAMID) -> bool:
    """Whether ``key`` is a level key with ``prefix``, e.g. ``"P3"`` (not ``3``, ``"p3"``,
    ``"P03"`` or ``"fpn_P3"``)."""
    _check_prefix(prefix)
    return isinstance(key, str) and re.fullmatch(rf"{prefix}(0|[1-9]\d*)", key) is not None


def parse_level(key, prefix: str = PYRAMID) -> int:
    """The level of a key: ``parse_level("P3") == 3``, ``parse_level("C5", "C") == 5``."""
    if not is_level_key(key, prefix):
        raise ValueError(
            f"level keys are {prefix!r} followed by the level ({level_key(3, prefix)!r} for "
            f"stride 8), got {key!r}"
        )
    return int(key[len(prefix) :])


def sorted_levels(keys: Iterable, prefix: str = PYRAMID, strict: bool = True) -> list[int]:
    """The levels of ``keys`` (a dict iterates its keys), in increasing order. ``strict``
    refuses a key that is not a level key with ``prefix``; otherwise such keys are skipped."""
    keys = list(keys)
    if not strict:
        keys = [key for key in keys if is_level_key(key, prefix)]
    return sorted(parse_level(key, prefix) for key in keys)
