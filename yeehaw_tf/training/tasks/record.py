"""Rebuilding a task dataclass from its JSON run record (JSON turns tuples into lists)."""

from __future__ import annotations

import dataclasses


def from_record(cls, record: dict, tuples: dict[str, type]):
    """``cls(**fields)`` from ``record``, ignoring keys that are not fields (``"task"``) and
    turning the lists of ``tuples`` (field name -> element type) back into tuples."""
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in record.items() if k in fields}
    for key, kind in tuples.items():
        if values.get(key) is not None:
            values[key] = tuple(kind(v) for v in values[key])
    return cls(**values)
