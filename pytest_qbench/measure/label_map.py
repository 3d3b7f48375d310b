"""`label_map`: score a model on a dataset whose label names differ (cross-dataset evaluation).

A map takes names of either side, the model's or the dataset's, to the names that are scored: entity
types for token classification (`{"GIVEN_NAME": "PER", "SURNAME": "PER"}`; "O" drops a type from the
score), class names for sequence classification. The names a map maps *to* are scored as they are on
both sides. Any other name is an error, unless the map has a `"*"` entry, which takes every name it
does not list (`"*": "O"`: score the rest as outside).

Entities are read from each side's own tags, as the scoring mode reads them (seqeval's conlleval rules
by default, IOB2 in strict mode), and renamed. A schema that cuts one entity into parts (a PII model's
`B-GIVEN_NAME B-SURNAME` for "John Smith") then has its parts joined: a span joins the entity before it
when it starts on the next word, is scored as the same type, and its own type is not in that entity
yet. So `B-GIVEN_NAME B-SURNAME` is one PER, in predictions and gold alike; `B-GIVEN_NAME B-GIVEN_NAME`
stays two PER, as the model said; and any word between two spans (O, or of a type scored otherwise)
keeps them apart: a merge never puts into an entity a word that no part of it covers. With merging off
(`label_map_merge=False`), every span is an entity of its own. Both sides are then scored as the IOB2
tags of their entities, so word accuracy compares those tags, not the raw ones (an I-PER that opens an
entity reads as B-PER, as the entity scores read it).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import QbenchDataError
from ..results import LabelMapEffect, MappedName

OUTSIDE = "O"
REST = "*"
_TAG = re.compile(r"^([BIESL])-(.+)$")  # IOB2 / IOBES prefixes; a bare name is an IO-scheme type


@dataclass(frozen=True)
class Translation:
    """What each name of the model and of the dataset is scored as: entity types (without their
    B-/I- prefix; "O" leaves a type out of the score) or classes."""

    model: dict[str, str]
    dataset: dict[str, str]


@dataclass(frozen=True)
class Span:
    """One entity as a side tagged it: words [start, end) of a sentence, of one type of its schema."""

    start: int
    end: int
    name: str


@dataclass(frozen=True)
class Relabelled:
    """Gold and predicted labels as they are scored, and what the map did to get them."""

    gold: list[Any]  # a sample's class, or a sentence's tags
    predicted: list[Any]
    effect: LabelMapEffect


@dataclass(frozen=True)
class _Counts:
    """One side's spans (or samples) per name, and the spans per name that joined the entity before them."""

    units: Counter[str]
    joined: Counter[str]


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
    model_names, dataset_names = _names(model_labels, tagged), _names(dataset_labels, tagged)
    names = model_names | dataset_names
    stray = sorted(set(label_map) - names - {REST})
    if stray:
        kind = "entity types" if tagged else "classes"
        raise QbenchDataError(
            f"label_map names {stray}, which neither the model nor the dataset has; their {kind}: {sorted(names)}"
        )
    scored = _scored_names(label_map, names)
    translation = Translation({n: scored[n] for n in model_names}, {n: scored[n] for n in dataset_names})
    _require_predictable(translation, tagged)
    return translation


def relabel_entities(
    translation: Translation, gold: list[list[str]], predicted: list[list[str]], *, strict: bool, merge: bool
) -> Relabelled:
    """Both sides' tags as IOB2 tags of the scored types, adjacent parts of one entity joined (`merge`)."""
    gold_counts, predicted_counts = _Counts(Counter(), Counter()), _Counts(Counter(), Counter())
    return Relabelled(
        [_scored_tags(tags, translation.dataset, strict, merge, gold_counts) for tags in gold],
        [_scored_tags(tags, translation.model, strict, merge, predicted_counts) for tags in predicted],
        _effect(translation, "span", gold=gold_counts, predicted=predicted_counts),
    )


def relabel_classes(translation: Translation, gold: list[str], predicted: list[str]) -> Relabelled:
    """Both sides' classes as they are scored."""
    effect = _effect(translation, "sample", gold=_Counts(Counter(gold), Counter()),
                     predicted=_Counts(Counter(predicted), Counter()))
    return Relabelled([translation.dataset[c] for c in gold], [translation.model[c] for c in predicted], effect)


def spans(tags: Sequence[str], strict: bool) -> list[Span]:
    """The entities of one sentence's tags as seqeval scores them: IOB2's reading (`strict`: an I-
    tag opens no entity) or conlleval's (an I- tag after O or after another type opens one)."""
    tags = [tag if tag == OUTSIDE or _TAG.match(tag) else f"I-{tag}" for tag in tags]  # IO scheme: all inside
    if strict:
        from seqeval.scheme import IOB2, Tokens

        return [Span(e.start, e.end, e.tag) for e in Tokens(tags, IOB2).entities]
    from seqeval.metrics.sequence_labeling import get_entities

    return [Span(start, end + 1, name) for name, start, end in get_entities(tags)]


def _scored_tags(
    tags: Sequence[str], scored: Mapping[str, str], strict: bool, merge: bool, counts: _Counts
) -> list[str]:
    result = [OUTSIDE] * len(tags)
    end, target, parts = -1, OUTSIDE, set()  # the last scored entity: where it ends, its type, its parts' types
    for span in spans(tags, strict):
        counts.units[span.name] += 1
        name = scored[span.name]
        if name == OUTSIDE:
            continue
        joins = merge and span.start == end and name == target and span.name not in parts
        result[span.start : span.end] = [f"I-{name}"] * (span.end - span.start)
        if joins:
            counts.joined[span.name] += 1
            parts.add(span.name)
        else:
            result[span.start] = f"B-{name}"
            target, parts = name, {span.name}
        end = span.end
    return result


def _effect(translation: Translation, unit: str, *, gold: _Counts, predicted: _Counts) -> LabelMapEffect:
    scored = {**translation.dataset, **translation.model}
    return LabelMapEffect(unit, [
        MappedName(name, scored[name], predicted.units[name], gold.units[name], predicted.joined[name],
                   gold.joined[name])
        for name in sorted(scored, key=lambda name: (scored[name] == OUTSIDE, scored[name], name))
    ])


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


def _names(labels: Iterable[str], tagged: bool) -> set[str]:
    """The entity types of IOB tags (without "O"), or the classes as they are."""
    if not tagged:
        return set(labels)
    return {match.group(2) if (match := _TAG.match(label)) else label for label in labels} - {OUTSIDE}


def _require_predictable(translation: Translation, tagged: bool) -> None:
    """Every scored dataset name must be one the model can predict, or its recall is 0 by construction."""
    outside = {OUTSIDE} if tagged else set()
    never = sorted(set(translation.dataset.values()) - set(translation.model.values()) - outside)
    if never:
        raise QbenchDataError(
            f"after label_map the dataset has {never}, which the model never predicts: map them onto a"
            " name the model predicts, or to 'O' to leave them out of the score"
        )
