"""What differs from one CPU class to the next, tested so that each test holds on all of them.

- The saturation premise: onnxruntime's u8s8 kernels saturate exactly where `Hardware.saturates_u8s8`
  says (x86 without VNNI or AMX), and the remedies give exact sums everywhere. Checked on this CPU,
  and under qemu's Haswell model (AVX2, no VNNI) where qemu-user is installed.
- The trained tiny model that the gate tests use keeps F1 1.0 through every preset, approach and
  remedy on this CPU; on a CPU without VNNI that includes U8S8 on the saturating kernels.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from projects import conll
from saturation import EXACT, integer_sums
from tiny_models import calibration_dataset

from pytest_qbench.hardware import detect
from pytest_qbench.measure.data import parse_conll
from pytest_qbench.measure.ort_session import make_ort_session
from pytest_qbench.measure.tasks import TokenClassification
from pytest_qbench.specs import SATURATION_REMEDIES, DataSpec, VariantSpec
from pytest_qbench.variants.quantize import build_variant


def test_u8s8_saturates_exactly_where_the_hardware_says_and_the_remedies_are_exact(tmp_path: Path):
    sums = integer_sums(tmp_path)
    assert sums["u8s8-x64quantprecision"] == sums["u8u8"] == EXACT
    assert (sums["u8s8"] != EXACT) is detect().saturates_u8s8, (sums, detect().key)


_QEMU = pytest.mark.skipif(
    shutil.which("qemu-x86_64") is None or detect().arch != "x86_64",
    reason="emulates an AVX2 CPU (no VNNI) with qemu-user: needs an x86-64 host and qemu-user (apt install qemu-user)",
)


def EMULATED_AVX2(test):  # noqa: N802 - a decorator, named like the marks it stands for
    """Runs under qemu's AVX2 CPU where qemu-user is installed: end to end (about ten seconds of emulation)."""
    return pytest.mark.e2e(_QEMU(test))


def on_emulated_avx2(script: str, folder: Path) -> dict:
    """Run `script` under qemu's Haswell model (AVX2, no VNNI) with tests/e2e, tests/ and the project
    importable and `folder` as sys.argv[4]; it prints one JSON line last, which this returns."""
    here, tests, root = (str(p) for p in Path(__file__).resolve().parents[:3])
    prologue = "import json, sys; from pathlib import Path; sys.path[:0] = sys.argv[1:4]; folder = Path(sys.argv[4]);"
    out = subprocess.run(
        ["qemu-x86_64", "-cpu", "Haswell", sys.executable, "-c", prologue + script, here, tests, root, str(folder)],
        capture_output=True, text=True, timeout=600, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@EMULATED_AVX2
def test_on_an_emulated_avx2_cpu_the_detection_and_the_saturation_agree(tmp_path: Path):
    # qemu-user emulates CPUID but shows the host's /proc/cpuinfo, whose flags py-cpuinfo merges in:
    # on a VNNI host that would describe the host. The emulated CPU is what CPUID says (as for MLAS).
    emulated = on_emulated_avx2(
        "import cpuinfo; from cpuinfo.cpuinfo import _get_cpu_info_from_cpuid;"
        "import saturation as t; from pytest_qbench.hardware import hardware_from_cpuinfo;"
        "hw = hardware_from_cpuinfo({**cpuinfo.get_cpu_info(), 'flags': _get_cpu_info_from_cpuid()['flags']});"
        "print(json.dumps({'key': hw.key, 'saturates': hw.saturates_u8s8, 'sums': t.integer_sums(folder)}))",
        tmp_path,
    )
    assert emulated["key"].startswith("x86_64-avx2-") and emulated["saturates"] is True
    assert emulated["sums"]["u8s8"] < EXACT  # vpmaddubsw's 16-bit pair sums clipped at 32767
    assert emulated["sums"]["u8s8-x64quantprecision"] == emulated["sums"]["u8u8"] == EXACT


@pytest.fixture(scope="module")
def toy_split(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("toy") / "valid.txt"
    path.write_text(conll())
    return parse_conll(path)


@pytest.mark.parametrize("preset", ["avx2", "avx512", "avx512_vnni", "arm64"])
@pytest.mark.parametrize("approach", ["dynamic", "static"])
def test_the_trained_tiny_model_keeps_f1_1_in_int8_through_every_preset(
    preset: str, approach: str, tiny_distilbert_onnx: Path, tiny_build_cache, toy_split
):
    """The gate tests' model: its int8 variants must score like the original on every CPU class,
    whatever kernels this CPU runs them on (U8S8 on vpmaddubsw on x86 without VNNI)."""
    from transformers import AutoConfig, AutoTokenizer

    inputs = [i.name for i in onnx.load(str(tiny_distilbert_onnx / "model.onnx"), load_external_data=False).graph.input]
    config = AutoConfig.from_pretrained(tiny_distilbert_onnx)
    tokenizer = AutoTokenizer.from_pretrained(tiny_distilbert_onnx)
    variant = build_variant(
        tiny_distilbert_onnx, VariantSpec(approach, ("Add", "MatMul"), preset=preset), preset=preset,
        calibration=calibration_dataset(tiny_distilbert_onnx, inputs), cache=tiny_build_cache,
    )
    scores = {
        path.name: TokenClassification().evaluate(
            make_ort_session(path, 1), tokenizer, toy_split, DataSpec(None, eval_batch_size=4), config.id2label
        ).f1
        for path in (variant.original, variant.optimized)
    }
    assert set(scores.values()) == {1.0}, scores


@pytest.mark.parametrize("remedy", [r for r in SATURATION_REMEDIES if r != "none"])
def test_each_saturation_remedy_builds_what_it_says(remedy: str, tiny_distilbert_onnx: Path, tiny_build_cache):
    spec = VariantSpec("dynamic", ("MatMul",), preset="avx512", saturation_remedy=remedy)
    record = build_variant(
        tiny_distilbert_onnx, spec, preset="avx512", calibration=None, cache=tiny_build_cache
    ).quantization
    expected = {
        "reduce_range": ("int8", True, {}),
        "u8u8": ("uint8", False, {}),
        "x64quantprecision": ("int8", False, {"session.x64quantprecision": "1"}),
    }[remedy]
    assert (record.weights_dtype, record.reduce_range, spec.ort_config_entries) == expected
    assert record.activations_dtype == "uint8"
    assert record.u8s8 is (remedy == "x64quantprecision")  # remedied at run time, by the session option
