"""Placeholder for the fcos detector family (being written)."""

from __future__ import annotations

# registered name -> input shape the variant is built for by default
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {}


def variants(features_of) -> dict:
    """Registered name -> a zero-argument factory of the family object. ``features_of(name)``
    gives a backbone builder for a registered classifier built with ``features=True``."""
    del features_of
    return {}
