"""Default model and data for the examples: the qbench plugin asks for these fixtures when a
`@pytest.mark.qbench` marker names no `model=` / `dataset=`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conll_model import TRAIN_FILE, VALID_FILE, conll_dir, ensure_model

# The question-answering gate trains its model for tens of minutes on first use and scores thousands of
# questions per variant: it runs when named (`make demo-qa`, `pytest --qbench examples/qa`), not with the
# rest of `pytest --qbench examples`.
QA_GATE = Path(__file__).resolve().parent / "qa"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.resolve() != QA_GATE:
        return None
    named = (config.invocation_params.dir / arg.split("::")[0] for arg in config.args)
    return not any(path.resolve().is_relative_to(QA_GATE) for path in named) or None


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
