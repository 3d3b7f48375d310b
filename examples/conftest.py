"""Default model and data for the examples: the qbench plugin asks for these fixtures when a
`@pytest.mark.qbench` marker names no `model=` / `dataset=`."""

from __future__ import annotations

import pytest
from conll_model import TRAIN_FILE, VALID_FILE, conll_dir, ensure_model


@pytest.fixture(scope="session")
def qbench_model() -> str:
    """Path of the CoNLL-2003 fine-tuned MiniLM; the first session on a machine trains it (~8 min)."""
    return str(ensure_model())


@pytest.fixture(scope="session")
def qbench_dataset():
    """Real CoNLL-2003 English: the train split (14041 sentences) and all 3250 validation sentences."""
    import datasets

    from pytest_qbench import parse_conll

    return datasets.DatasetDict(
        {"train": parse_conll(conll_dir() / TRAIN_FILE), "validation": parse_conll(conll_dir() / VALID_FILE)}
    )
