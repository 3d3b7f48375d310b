"""The JSON edge of a record that keeps the keys it does not know (Environment, RunRecord): a merge writes
what it read, a newer writer's keys and a hook's included."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from typing import Any


def open_record_json(record: Any, always: Collection[str] = ()) -> dict[str, object]:
    """`record`'s fields as JSON after the unknown keys it was read with (`record.other`): tuples as lists,
    a None left out unless its field is in `always`."""
    recorded: dict[str, object] = dict(record.other)
    for item in fields(record):
        value = getattr(record, item.name)
        if item.name == "other" or (value is None and item.name not in always):
            continue
        recorded[item.name] = list(value) if isinstance(value, tuple) else value
    return recorded
