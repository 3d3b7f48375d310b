"""bench/cold_demo.py: the steps it reads from the Makefile, how it keeps them out of the checkout, what it
records of the models and the gate, and its renderer, on synthetic records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import cold_demo  # noqa: E402
from renderers import Result, render_cold_demo  # noqa: E402


def test_the_steps_are_the_makefiles_demo_after_the_install_with_this_interpreter():
    steps = cold_demo.demo_steps()
    assert [step[0] for step in steps] == [sys.executable] * 3
    assert [step[1] for step in steps[:2]] == ["examples/conll_model.py", "examples/sentiment_model.py"]
    assert steps[2][1:5] == ["-m", "pytest", "--qbench", "examples"]
    assert not any("pip" in word for step in steps for word in step)


def test_reports_baselines_and_artifact_go_to_the_scratch_folder(tmp_path):
    gate = cold_demo.in_scratch(["py", "-m", "pytest", "--qbench", "examples", "--qbench-html", ".qbench/r.html"],
                                tmp_path)
    assert gate == ["py", "-m", "pytest", "--qbench", "examples", "--qbench-html", str(tmp_path / "r.html"),
                    "--qbench-baselines", str(tmp_path / "baselines"), "--qbench-json", str(tmp_path / "artifact.json")]
    training = ["py", "examples/conll_model.py"]
    assert cold_demo.in_scratch(training, tmp_path) == training


def test_the_models_trained_are_read_from_the_cache_without_machine_paths(tmp_path):
    model = tmp_path / "models" / "conll2003-minilm-abc"
    model.mkdir(parents=True)
    (model / "training.json").write_text(json.dumps({"encoder": "/home/x/enc", "train_seconds": 176.0, "steps": 878}))
    assert cold_demo.trained(tmp_path) == {"conll2003-minilm-abc": {"train_seconds": 176.0, "steps": 878}}
    assert cold_demo.trained(tmp_path / "none") == {}


def test_the_gate_is_summed_by_verdict_and_case_seconds_an_expected_failure_as_xfailed():
    artifact = {"cases": [{"verdict": "pass", "seconds": 4.0}, {"verdict": "pass", "seconds": 6.0},
                          {"verdict": "skip", "seconds": None},
                          {"verdict": "fail", "seconds": 2.0, "expected_failure": True}]}
    assert cold_demo.gate_summary(artifact) == {"cases": 4, "verdicts": {"pass": 2, "skip": 1, "xfailed": 1},
                                                "case_seconds": 12.0}


def test_the_renderer_names_each_step_and_the_total():
    data = {"when": "2026-12-07T02:30:00+00:00", "minutes": 10.0, "load_before": [1, 1, 1], "load_after": [2, 2, 2],
            "beside": "nothing", "machine": {"brand": "CPU", "hardware_key": "k", "physical_cores": 2,
                                              "logical_cores": 2},
            "command": "bench/cold_demo.py",
            "steps": [{"command": "py examples/conll_model.py", "seconds": 180, "exit_code": 0},
                      {"command": "py examples/sentiment_model.py", "seconds": 42, "exit_code": 0},
                      {"command": "py -m pytest --qbench examples --ignore=examples/sparse", "seconds": 378,
                       "exit_code": 0}],
            "gate": {"cases": 93, "verdicts": {"pass": 55, "skip": 36, "xfail": 2}, "case_seconds": 330.0},
            "models": {"conll2003-minilm-abc": {"train_seconds": 170.2, "steps": 878, "bf16_autocast": True,
                                                "validation": {"f1": 0.9019}}}}
    text = render_cold_demo(Result("bench/results/cold-demo-k.json", data))
    assert "| `examples/conll_model.py` | 3.0 | 0 |" in text
    assert "| `pytest --qbench examples` | 6.3 | 0 |" in text
    assert "| **total** | **10.0** |  |" in text
    assert "conll2003-minilm-abc 170 s (878 steps, bf16 autocast; f1 0.9019)" in text
    assert "93 cases (55 pass, 36 skip, 2 xfail)" in text
