"""The question-answering example's model and data (../squad_model.py) as the qbench fixtures; they
override the NER ones of ../conftest.py for the tests in this folder."""

from __future__ import annotations

import pytest
from squad_model import ensure_model, gate_data


@pytest.fixture(scope="session")
def qbench_model() -> str:
    """MiniLM fine-tuned for extractive QA on part of SQuAD v1.1 train; the first session on a machine trains it."""
    return str(ensure_model())


@pytest.fixture(scope="session")
def qbench_dataset():
    """SQuAD v1.1: 1000 train questions (calibration), the dev set, and every fifth dev question (scored)."""
    return gate_data()
