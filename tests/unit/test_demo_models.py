"""The demo's models (examples/conll_model.py, sentiment_model.py, sparse_model.py) train with bf16
autocast on CPUs with AMX only, and only there does their cache key, the model name the baselines
record, change: elsewhere the models and names stay the ones the committed baselines hold."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples"))

import conll_model  # noqa: E402
import sentiment_model  # noqa: E402
import sparse_model  # noqa: E402
import training  # noqa: E402


def _names(tmp_path: Path) -> dict[str, str]:
    """Each demo model's folder name, the model name the baselines record, on the CPU the flags say."""
    def name(prefix: str, fingerprint: dict) -> str:
        return training.ModelCache(tmp_path, prefix).path_for(fingerprint).name

    names = {
        "conll": name(conll_model.MODEL_PREFIX, conll_model.fingerprint(conll_model.Recipe())),
        "sentiment": name(sentiment_model.MODEL_PREFIX, sentiment_model._fingerprint(sentiment_model.Recipe())),
    }
    for level in sparse_model.LEVELS:
        recipe = sparse_model.SparseRecipe(level)
        names[f"sparse{level}"] = name(sparse_model.model_prefix(recipe), sparse_model.fingerprint(recipe))
    return names


def _committed_names(hardware_keys: set[str]) -> set[str]:
    """The model names the committed baselines of the demo's examples record for these hardware keys (the QA
    example's models are examples/squad_model.py's, not the demo's)."""
    names = set()
    for file in (REPO / "baselines").glob("examples.*.json"):
        # what a failed case measured, left beside its baseline for a look, is not a baseline
        if file.name.endswith(".obtained.json") or file.name.startswith("examples.qa."):
            continue
        for per_key in json.loads(file.read_text())["cases"].values():
            names |= {entry["model"] for key, entry in per_key.items() if key in hardware_keys}
    return names


@pytest.fixture
def cpu_flags(monkeypatch):
    def use(*flags: str) -> None:
        monkeypatch.setattr(training, "_cpu_flags", lambda: set(flags))

    return use


def test_without_amx_the_demo_models_are_the_ones_the_committed_baselines_name(cpu_flags, tmp_path):
    # AMD Zen 4 and 5 have AVX512-BF16 and share the avx512_vnni key (and its baselines) with CPUs without it
    cpu_flags("avx2", "avx512f", "avx512_vnni", "avx512_bf16")
    assert not training.amx_bf16()
    assert conll_model.Recipe().schedule.bf16 is False
    assert set(_names(tmp_path).values()) == _committed_names({"x86_64-avx2-2c", "x86_64-avx512_vnni-2c"})


def test_with_amx_the_demo_models_train_in_bf16_under_names_of_their_own(cpu_flags, tmp_path):
    cpu_flags("avx2")
    plain = _names(tmp_path)
    cpu_flags("avx512_vnni", "amx_tile", "amx_int8", "amx_bf16")
    assert training.amx_bf16()
    assert conll_model.Recipe().schedule.bf16 and sentiment_model.Recipe().schedule.bf16
    amx = _names(tmp_path)
    assert amx.keys() == plain.keys()
    assert all(amx[model] != plain[model] for model in plain)
    assert set(amx.values()) == _committed_names({"x86_64-amx-2c"})
