"""The HTML report and the history: the file itself and the append-only store and its step detection
(the page in a browser, and the plugin's options end to end: test_html_report_in_chromium.py)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from factories import ENVIRONMENT, TEST, make_result

from pytest_qbench.gate.rules import RunOutcome
from pytest_qbench.measure.stats import median_cpu
from pytest_qbench.report.artifact import build_artifact
from pytest_qbench.report.history import append, load, series, step
from pytest_qbench.report.html import CSP, render
from pytest_qbench.report.markdown import markdown
from pytest_qbench.results import (
    BudgetPoint,
    BudgetResult,
    BudgetThroughput,
    Check,
    LabelMapEffect,
    MappedName,
    OriginalRecord,
    Parameters,
    RunRecord,
    Status,
)


def _results():
    """A failing case (F1 below its baseline), an inconclusive one and a passing one, in that order
    of severity but not of appearance."""
    passing = replace(make_result(batch_size=1), verdict=Status.PASS, hardware_key=ENVIRONMENT.hardware_key, checks=[
        Check("f1", "original", "pass", 0.939, 0.940, "max loss 0.01", "lost 0.001", limit=0.93),
        Check("cpu.speedup", "baseline", "pass", 4.66, 4.70, "rtol 0.1", "within", limit=4.70 / 1.1),
    ])
    unsure = replace(
        make_result(batch_size=4),
        verdict=Status.INCONCLUSIVE,
        hardware_key=ENVIRONMENT.hardware_key,
        checks=[
            Check("cpu.speedup", "baseline", "inconclusive", 4.3, 4.7, "rtol 0.1", "interval covers both"),
        ],
    )
    failing = replace(make_result(batch_size=8), verdict=Status.FAIL, hardware_key=ENVIRONMENT.hardware_key, checks=[
        Check("f1", "baseline", "fail", 0.80, 0.939, "atol 0.005", "f1 0.8000 vs baseline 0.9390"),
        Check("cpu.speedup", "baseline", "pass", 4.6, 4.7, "rtol 0.1", "within"),
    ])
    return [passing, unsure, failing]


OTHER_TEST = "examples/test_runtimes.py::test_openvino"
LABEL_MAP = LabelMapEffect("span", [MappedName("GIVEN_NAME", "PER", 1904, 0), MappedName("PER", "PER", 0, 1842),
                                    MappedName("SURNAME", "PER", 1236, 0, 1236, 0), MappedName("EMAIL", "O", 0, 0)])


def _budget(original: float, optimized: float) -> BudgetResult:
    def found(throughput: float, batch_size: int) -> BudgetThroughput:
        point = BudgetPoint(batch_size, 1, 180.0, throughput, 100)
        return BudgetThroughput(point, [point])

    return BudgetResult(200.0, 2, found(original, 4), found(optimized, 16))


def _whole_run():
    """`_results()` with what only some runs have: a label map and a case measured again in fresh
    processes; and a second test of OpenVINO beside ONNX Runtime, one case with a latency budget."""
    passing, unsure, failing = _results()
    passing = replace(passing, accuracy_original=replace(passing.accuracy_original, label_map=LABEL_MAP),
                      parameters=Parameters({**passing.parameters.recorded,
                                             "evaluation": {"label_map": {"*": "O"}, "label_map_merge": True}}))
    cpu = unsure.latency.cpu
    measurements = [replace(cpu, speedup=replace(cpu.speedup, value=v)) for v in (4.21, 4.64, 4.70)]
    unsure = replace(unsure, latency=replace(unsure.latency, cpu=median_cpu(measurements), measurements=measurements))
    others = []
    for result in (
        make_result(original_ms=40.0, optimized_ms=10.0),
        make_result(operators=(), runtime="openvino", original_ms=36.0, optimized_ms=8.0),
    ):
        moved = replace(result, test=OTHER_TEST, nodeid=result.nodeid.replace(TEST, OTHER_TEST), verdict=Status.PASS,
                        original=OriginalRecord("fp32", {}), hardware_key=ENVIRONMENT.hardware_key)
        others.append(moved)
    others[0] = replace(others[0], latency=replace(others[0].latency, budget=_budget(60.0, 250.0)))
    return [passing, unsure, failing, *others]


def _history(folder: Path, speedups: list[float]) -> Path:
    for run, value in enumerate(speedups):
        result = make_result(original_ms=46.38, optimized_ms=46.38 / value)
        environment = replace(ENVIRONMENT, created=f"2026-11-{run + 1:02d}T00:00:00+00:00")
        append(folder, build_artifact(environment, [result]))
    return folder


# ---- the file, and the history -------------------------------------------------------------------------


def test_the_report_is_one_offline_file_with_failing_rows_first(tmp_path: Path):
    page = render(
        RunOutcome(_results()), ENVIRONMENT, load(_history(tmp_path / "history", [4.6, 4.7, 4.6, 3.9, 3.8, 3.9]))
    )
    assert f'content="{CSP}"' in page and "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing to fetch, from anywhere
    cases = re.findall(r"<tr class='case verdict-(\w+) ", page)
    assert cases == ["fail", "inconclusive", "pass"]
    assert page.count("<figure>") == 4 and page.count("role='img' aria-label=") == 4  # with text alternatives
    assert page.count("<details><summary>The numbers</summary>") == 4
    assert "currentColor" in page and "#010203" not in page  # chart ink follows light and dark
    assert ENVIRONMENT.hardware_key in page and ENVIRONMENT.created in page


def test_the_history_is_append_only_and_indexed_oldest_first(tmp_path: Path):
    folder = tmp_path / "history"
    artifact = build_artifact(ENVIRONMENT, [make_result()])
    first, second = append(folder, artifact), append(folder, artifact)  # the same run twice: two entries
    assert first != second and first.is_file() and second.is_file()
    older = build_artifact(replace(ENVIRONMENT, created="2020-01-01T00:00:00+00:00"), [make_result()])
    append(folder, older)
    runs = load(folder)
    assert [r.created for r in runs] == sorted(r.created for r in runs) and len(runs) == 3
    assert json.loads((folder / "index.json").read_text())["runs"][0]["file"].startswith("runs/2020-01-01")
    (key, points), = series(runs).items()
    assert len(points) == 3 and key[1] == ENVIRONMENT.hardware_key


def test_a_failed_run_check_fails_the_report_and_the_history_entry_as_it_fails_the_run(tmp_path: Path):
    passing = [r for r in _results() if r.verdict is Status.PASS]
    slower = Check("cpu_ms.common", "baseline", "fail", 1.2, 1.0, "rtol 0.1", "every model slower alike", limit=1.1)
    outcome = RunOutcome(passing, [slower])
    assert (outcome.verdict, outcome.exit_code) == (Status.FAIL, 1)
    assert "<title>pytest-qbench: fail</title>" in render(outcome, ENVIRONMENT)
    assert "<title>pytest-qbench: pass</title>" in render(RunOutcome(passing), ENVIRONMENT)
    artifact = build_artifact(ENVIRONMENT, passing, RunRecord(None, tuple(r.nodeid for r in passing)))
    append(tmp_path, {**artifact, "run_checks": [slower.to_json()]})
    assert [run.verdict for run in load(tmp_path)] == ["fail"]


@pytest.mark.parametrize("values, expected", [
    ([4.6, 4.7, 4.6, 3.9, 3.8, 3.9], 3),  # a 17% drop from run 4 on
    ([4.6, 4.7, 4.5, 4.6, 4.7, 4.6], None),  # noise
    ([4.6, 3.5], None),  # too short to call
    ([4.0, 4.0, 4.1, 4.0, 4.6, 4.7], 4),
])
def test_a_step_change_is_found_where_the_median_moves_ten_percent(values, expected):
    assert step(values) == expected


# ---- in a real browser ----------------------------------------------------------------------------------


def test_the_charts_draw_the_limits_the_checks_were_held_to():
    page = render(RunOutcome(_results()), ENVIRONMENT)
    assert "<td>4.273</td>" in page  # the passing case's speedup floor: baseline 4.70 / (1 + rtol 0.1)
    assert "<td>0.93</td>" in page  # its lowest allowed F1: 0.940 - max loss 0.01


def test_a_machine_without_latency_baselines_still_shows_its_speedups_and_says_why_once():
    """A first run on a new key: the gate table's "now" speedup columns are filled, the long not-gated
    reason is written once under the table, and the header counts the xfail apart from the failures."""
    reason = (
        "latency recorded, not gated: baseline recorded on hardware 'x86_64-avx2-2c', this machine is 'x86_64-amx-2c'"
    )
    results = []
    for batch in (1, 4):
        result = make_result(batch_size=batch)
        result.checks = [Check("f1", "original", "pass", 0.939, 0.94, "max loss 0.01", "ok"),
                         Check("latency", "baseline", "skip", None, None, "hardware key x86_64-amx-2c", reason)]
        result.verdict = Status.PASS
        results.append(result)
    xfailed = make_result(batch_size=8, f1=(0.94, 0.1))
    xfailed.checks = [Check("f1", "original", "fail", 0.1, 0.94, "max loss 0.01", "lost")]
    xfailed.verdict, xfailed.expected_failure = Status.FAIL, True
    page = render(RunOutcome([*results, xfailed]), ENVIRONMENT)
    speedup = results[0].latency.cpu.speedup
    assert f"{speedup.value:.4g} <span class='muted'>({speedup.ci_low:.2f}–{speedup.ci_high:.2f})</span>" in page
    assert page.count("not gated</td>") == 2
    assert page.count(reason.replace("'", "&#x27;")) == 1
    assert all(
        f"<strong>{n}</strong> {verdict}</li>" in page for n, verdict in ((2, "pass"), (1, "xfail"), (0, "fail"))
    )


# ---- what the report leads with, and what only some runs have -------------------------------------------


def test_the_report_leads_with_the_verdict_the_counts_what_failed_and_the_speedup_chart():
    page = render(RunOutcome(_whole_run()), ENVIRONMENT)
    counts = re.findall(r"<li class='status-(\w+)[^']*'><strong>(\d+)</strong>", page)
    assert counts == [("pass", "3"), ("fail", "1"), ("inconclusive", "1"), ("skip", "0"), ("error", "0"),
                      ("updated", "0"), ("xfail", "0")]
    failed = "<li>dynamic-Add+MatMul-bs8-len32: [fail] f1 vs baseline: f1 0.8000 vs baseline 0.9390</li>"
    unsure = "<li>dynamic-Add+MatMul-bs4-len32: interval covers both</li>"
    confirmed = (
        "<li>dynamic-Add+MatMul-bs4-len32: cpu speedups 4.210, 4.640, 4.700 -&gt; best 4.700: inconclusive</li>"
    )
    order = ["<h1>", "<ul id='counts'>", failed, unsure, confirmed, "<h2>Speedup against the baseline</h2>",
             "<figure>", "<h2>This run</h2>", "<details class='table'><summary>The gate table: 5 cases"]
    assert [page.index(part) for part in order] == sorted(page.index(part) for part in order)


def test_runtimes_and_budgets_are_charts_over_tables_collapsed_and_filtered_by_test():
    page = render(RunOutcome(_whole_run()), ENVIRONMENT)
    runtimes = page.split("<h2>Runtimes side by side</h2>", 1)[1].split("<h2>Throughput", 1)[0]
    assert runtimes.count("<figure>") == 1 and "<details><summary>The numbers</summary><table>" in runtimes
    assert " x5.00, F1 0.9390" in runtimes and " x1.00, F1 0.9400" in runtimes  # speedup over ORT fp32, F1 beside
    budgets = page.split("<h2>Throughput within the latency budget</h2>", 1)[1]
    assert budgets.count("<figure>") == 1 and " 60.0/s" in budgets and " 250.0/s" in budgets
    assert "dynamic-Add+MatMul-bs1-len32 (p90 &lt;= 200 ms, 2 threads): original 60.0/s" in budgets
    assert "<details open" not in page
    # a radio per test before the filtered content; each row of the long tables names its tests
    assert re.findall(r"<input type='radio' name='test' id='test-(\w+)'", page) == ["all", "0", "1"]
    assert "#test-1:checked ~ .filtered tr.t:not(.test-1) { display: none; }" in page
    assert page.index("<input type='radio'") < page.index("<div class='filtered'>") < page.index("<table id='gate'>")
    assert re.findall(r"<tr class='case verdict-\w+ (t test-\d)'", page) == ["t test-0"] * 3 + ["t test-1"] * 2
    found = re.findall(
        r"<tr class='(t[ \w-]*)'><td>[^<]+</td><td>bs1-len32</td><td>(\w+)</td><td>([^<]+)</td>", runtimes
    )
    classes = {(runtime, variant): name for name, runtime, variant in found}
    assert (
        classes[("openvino", "fp32")] == "t test-1"
        and classes[("onnxruntime", "dynamic-Add+MatMul (test_ner)")] == "t test-0"
    )
    assert re.findall(r"<tr class='(t test-\d)'><td>examples/", budgets) == ["t test-1"]


def test_a_run_of_one_test_has_no_filter():
    page = render(RunOutcome(_results()), ENVIRONMENT)
    assert "type='radio'" not in page and ":checked" not in page


def test_the_label_map_table_is_the_markdown_report_s():
    results = _whole_run()
    page, text = render(RunOutcome(results), ENVIRONMENT), markdown(results, ENVIRONMENT)
    assert "<tr><td>SURNAME -&gt; PER</td><td>1236 (1236 joined)</td><td>0</td></tr>" in page
    assert "| `SURNAME -> PER` | 1236 (1236 joined) | 0 |" in text
    sentence = "No spans on either side: EMAIL. Merges: 1236 predicted and 0 gold spans joined the entity before them."
    assert sentence in page and sentence in text
    assert "label_map on" not in render(RunOutcome(_results()), ENVIRONMENT)
