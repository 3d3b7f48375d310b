"""label_map's merge rule on a real schema: the example CoNLL model's own predictions on all 3250
CoNLL-2003 validation sentences, re-tagged so that every name comes in two parts, as PII models tag
them (examples/split_names.py), score through the map exactly what they score unsplit.

Both scores come from the same predictions, so the check holds on every CPU class. It needs the
example model trained on this machine (`python examples/conll_model.py`, about 6 minutes on 2 cores).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_qbench.measure.tasks import TokenClassification
from pytest_qbench.specs import DataSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def predictions():
    sys.path.insert(0, str(EXAMPLES))
    from conll_model import find_model
    from split_names import validation_predictions

    model = find_model()
    if model is None:
        pytest.skip("needs the example CoNLL model trained on this machine: run `python examples/conll_model.py`"
                    " (about 6 minutes on 2 cores)")
    return validation_predictions(model, threads=1)


def test_names_split_in_two_and_mapped_back_score_exactly_the_unsplit_scores(predictions):
    """Both scoring modes in one test: under pytest-xdist, two tests could each predict the split anew."""
    from split_names import SPLIT_TO_CONLL, split_predictions

    task = TokenClassification()
    for scoring in ("default", "strict"):
        unsplit = task.score(predictions, DataSpec(None, scoring=scoring))
        split = split_predictions(predictions, strict=scoring == "strict")
        spec = DataSpec(None, scoring=scoring, label_map=tuple(sorted(SPLIT_TO_CONLL.items())))
        mapped = task.score(split, spec)
        assert (mapped.precision, mapped.recall, mapped.f1, mapped.per_label_f1) == \
            (unsplit.precision, unsplit.recall, unsplit.f1, unsplit.per_label_f1), scoring

        # The merges did that work: each name of two words or more is a given name and a surname joined.
        rows = {row.name: row for row in mapped.label_map.names}
        surnames = sum(tags.count("B-SURNAME") for tags in split.predicted)
        assert rows["SURNAME"].predicted == rows["SURNAME"].predicted_joined == surnames > 0
        assert rows["GIVEN_NAME"].predicted_joined == 0
        assert task.score(split, replace(spec, label_map_merge=False)).f1 < unsplit.f1
