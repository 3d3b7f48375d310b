"""`label_map`: score a model on a dataset whose label names differ (cross-dataset evaluation).

A map takes label names of either side, the model's or the dataset's, to the names that are scored:
entity types for token classification (`{"GIVEN_NAME": "PER", "SURNAME": "PER"}`; the B-/I- prefix
stays, and "O" drops a type from the score), class names for sequence classification. The names a
map maps *to* are scored as they are on both sides. Any other name is an error, unless the map has a
`"*"` entry, which takes every name it does not list (`"*": "O"`: score the rest as outside).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from ..errors import QbenchDataError

OUTSIDE = "O"
REST = "*"
_TAG = re.compile(r"^([BIESL])-(.+)$")  # IOB2 / IOBES prefixes; a bare name is an IO-scheme type


@dataclass(frozen=True)
class Translation:
    """Each label of the model and of the dataset, as it is scored."""

    model: dict[str, str]
    dataset: dict[str, str]


def translate(
    label_map: Mapping[str, str], model_labels: Iterable[str], dataset_labels: Iterable[str], *, tagged: bool = True
) -> Translation:
    """Resolve `label_map` against both label sets; `tagged`: labels are IOB tags, the map takes types."""
    model_labels, dataset_labels = sorted(set(model_labels)), sorted(set(dataset_labels))
    tags = sorted(n for n in (*label_map, *label_map.values()) if tagged and _TAG.match(n))
    if tags:
        raise QbenchDataError(
            f"label_map names tags {tags}; it maps entity types, whose B-/I- prefixes it keeps:"
            " e.g. {'GIVEN_NAME': 'PER'} scores B-GIVEN_NAME as B-PER and I-GIVEN_NAME as I-PER"
        )
    names = {_name(label, tagged) for label in (*model_labels, *dataset_labels)} - _outside(tagged)
    stray = sorted(set(label_map) - names - {REST})
    if stray:
        kind = "entity types" if tagged else "classes"
        raise QbenchDataError(
            f"label_map names {stray}, which neither the model nor the dataset has; their {kind}: {sorted(names)}"
        )
    scored = _scored_names(label_map, names)
    model = {label: _apply(label, scored, tagged) for label in model_labels}
    dataset = {label: _apply(label, scored, tagged) for label in dataset_labels}
    _require_predictable(model, dataset, tagged)
    return Translation(model, dataset)


def _scored_names(label_map: Mapping[str, str], names: set[str]) -> dict[str, str]:
    targets = set(label_map.values())
    scored, left = {}, []
    for name in sorted(names):
        if name in label_map:
            scored[name] = label_map[name]
        elif name in targets:
            scored[name] = name
        elif REST in label_map:
            scored[name] = label_map[REST]
        else:
            left.append(name)
    if left:
        raise QbenchDataError(
            f"label_map leaves {left} unmapped: map each to a scored name (to 'O' to leave an entity type"
            " out of the score), or add '*': 'O' to the map to score every name it does not list as O"
        )
    return scored


def _outside(tagged: bool) -> set[str]:
    return {OUTSIDE} if tagged else set()


def _name(label: str, tagged: bool) -> str:
    match = _TAG.match(label) if tagged else None
    return match.group(2) if match else label


def _apply(label: str, scored: Mapping[str, str], tagged: bool) -> str:
    if not tagged:
        return scored[label]
    if label == OUTSIDE:
        return OUTSIDE
    match = _TAG.match(label)
    prefix, name = (match.group(1) + "-", match.group(2)) if match else ("", label)
    target = scored[name]
    return OUTSIDE if target == OUTSIDE else prefix + target


def _require_predictable(model: Mapping[str, str], dataset: Mapping[str, str], tagged: bool) -> None:
    """Every scored dataset name must be one the model can predict, or its recall is 0 by construction."""
    def names(labels: Iterable[str]) -> set[str]:
        return {_name(label, tagged) for label in labels} - _outside(tagged)

    never = sorted(names(dataset.values()) - names(model.values()))
    if never:
        raise QbenchDataError(
            f"after label_map the dataset has {never}, which the model never predicts: map them onto a"
            " name the model predicts, or to 'O' to leave them out of the score"
        )
