"""The text-classification example's model and data (../sentiment_model.py) as the qbench fixtures;
they override the NER ones of ../conftest.py for the tests in this folder."""

from __future__ import annotations

import pytest
from sentiment_model import ensure_model, reviews


@pytest.fixture(scope="session")
def qbench_model() -> str:
    """MiniLM fine-tuned on Rotten Tomatoes reviews; the first session on a machine trains it (~1-2 min)."""
    return str(ensure_model())


@pytest.fixture(scope="session")
def qbench_dataset():
    """The reviews split by movie: train (calibration) and validation (1323 reviews, scored)."""
    return reviews()
