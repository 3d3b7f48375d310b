"""The example CoNLL model's own predictions in a schema that cuts names in two, as PII models do.

Each PER entity the model predicted (as the scoring mode reads the tags) becomes B-GIVEN_NAME for its
first word and one SURNAME span for the rest: "John Smith" B-PER I-PER becomes B-GIVEN_NAME
B-SURNAME, "Jean Claude Van Damme" B-GIVEN_NAME B-SURNAME I-SURNAME I-SURNAME. Mapped back with
SPLIT_TO_CONLL, the re-tagged predictions must score exactly what they score unsplit: the check of
label_map's merge rule on a real schema (tests/e2e/test_label_map_conll.py; bench/label_map_split.py, archived in
bench/ARCHIVE.md).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from conll_model import VALID_FILE, conll_dir

from pytest_qbench.measure.tasks import Predictions, TokenClassification
from pytest_qbench.specs import DataSpec

SPLIT_TO_CONLL = {"GIVEN_NAME": "PER", "SURNAME": "PER", "LOC": "LOC", "ORG": "ORG", "MISC": "MISC"}
_SPLIT = {"B-PER": ["B-GIVEN_NAME", "I-GIVEN_NAME"], "I-PER": ["B-SURNAME", "I-SURNAME"]}  # a label -> its two


def validation_predictions(model_dir: Path, threads: int) -> Predictions:
    """The model's labels for all 3250 CoNLL-2003 validation sentences (fp32 ONNX, opset 11, as the plugin runs it)."""
    from transformers import AutoConfig, AutoTokenizer

    from pytest_qbench.measure.data import parse_conll
    from pytest_qbench.measure.ort_session import make_ort_session
    from pytest_qbench.variants.cache import BuildCache
    from pytest_qbench.variants.export import export_original

    original = export_original(model_dir, 11, BuildCache())
    tokenizer, config = AutoTokenizer.from_pretrained(original), AutoConfig.from_pretrained(original)
    session = make_ort_session(original / "model.onnx", threads)
    return TokenClassification().predict(
        session, tokenizer, parse_conll(conll_dir() / VALID_FILE), DataSpec(None), config.id2label
    )


def split_predictions(predictions: Predictions, strict: bool) -> Predictions:
    """`predictions` with every PER entity re-tagged into the split schema, and the model's head to match."""
    labels = [new for label in predictions.id2label.values() for new in _SPLIT.get(label, [label])]
    predicted = [split_names(tags, strict) for tags in predictions.predicted]
    return replace(predictions, predicted=predicted, id2label=dict(enumerate(labels)))


def split_names(tags: list[str], strict: bool) -> list[str]:
    """One sentence re-tagged: each PER entity's first word B-GIVEN_NAME, the rest one SURNAME span.
    A PER tag in no entity (IOB2 reads none in an I-PER after O) becomes I-GIVEN_NAME: none either."""
    result = ["I-GIVEN_NAME" if tag.endswith("-PER") else tag for tag in tags]
    for start, end in _person_entities(tags, strict):
        result[start:end] = [
            "B-GIVEN_NAME",
            *(["B-SURNAME"] if end - start > 1 else []),
            *["I-SURNAME"] * (end - start - 2),
        ]
    return result


def _person_entities(tags: list[str], strict: bool) -> list[tuple[int, int]]:
    """[start, end) of each PER entity, read by seqeval's own rules for the scoring mode."""
    if strict:
        from seqeval.scheme import IOB2, Tokens

        return [(e.start, e.end) for e in Tokens(tags, IOB2).entities if e.tag == "PER"]
    from seqeval.metrics.sequence_labeling import get_entities

    return [(start, end + 1) for name, start, end in get_entities(tags) if name == "PER"]
