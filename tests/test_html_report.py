"""The HTML report and the history: the file itself, the append-only store and its step detection,
the plugin's options end to end, and the page in a real headless Chromium (Debian's, driven by
Playwright through the system binary)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from factories import ENVIRONMENT, make_result
from projects import make_project

from pytest_qbench.report.artifact import build_artifact
from pytest_qbench.report.history import append, load, series, step
from pytest_qbench.report.html import CSP, render
from pytest_qbench.results import Check

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER = pytest.mark.skipif(
    CHROMIUM is None or importlib.util.find_spec("playwright") is None,
    reason="needs Debian's chromium (apt install chromium; .ci/run installs it where apt exists) and playwright",
)


def _results():
    """A failing case (F1 below its baseline), an inconclusive one and a passing one, in that order
    of severity but not of appearance."""
    passing = replace(make_result(batch_size=1), verdict="pass", hardware_key=ENVIRONMENT["hardware_key"], checks=[
        Check("f1", "original", "pass", 0.939, 0.940, "max loss 0.01", "lost 0.001", limit=0.93),
        Check("cpu.speedup", "baseline", "pass", 4.66, 4.70, "rtol 0.1", "within", limit=4.70 / 1.1),
    ])
    unsure = replace(make_result(batch_size=4), verdict="inconclusive", hardware_key=ENVIRONMENT["hardware_key"], checks=[
        Check("cpu.speedup", "baseline", "inconclusive", 4.3, 4.7, "rtol 0.1", "interval covers both"),
    ])
    failing = replace(make_result(batch_size=8), verdict="fail", hardware_key=ENVIRONMENT["hardware_key"], checks=[
        Check("f1", "baseline", "fail", 0.80, 0.939, "atol 0.005", "f1 0.8000 vs baseline 0.9390"),
        Check("cpu.speedup", "baseline", "pass", 4.6, 4.7, "rtol 0.1", "within"),
    ])
    return [passing, unsure, failing]


def _history(folder: Path, speedups: list[float]) -> Path:
    for run, value in enumerate(speedups):
        result = make_result(original_ms=46.38, optimized_ms=46.38 / value)
        environment = {**ENVIRONMENT, "created": f"2026-11-{run + 1:02d}T00:00:00+00:00"}
        append(folder, build_artifact(environment, [result]))
    return folder


# ---- the file, and the history -------------------------------------------------------------------------


def test_the_report_is_one_offline_file_with_failing_rows_first(tmp_path: Path):
    page = render(_results(), ENVIRONMENT, load(_history(tmp_path / "history", [4.6, 4.7, 4.6, 3.9, 3.8, 3.9])))
    assert f'content="{CSP}"' in page and "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing to fetch, from anywhere
    cases = re.findall(r"<tr class='case verdict-(\w+)'", page)
    assert cases == ["fail", "inconclusive", "pass"]
    assert page.count("<figure>") == 4 and page.count("role='img' aria-label=") == 4  # with text alternatives
    assert page.count("<details><summary>The numbers</summary>") == 4
    assert "currentColor" in page and "#010203" not in page  # chart ink follows light and dark
    assert ENVIRONMENT["hardware_key"] in page and ENVIRONMENT["created"] in page


def test_the_history_is_append_only_and_indexed_oldest_first(tmp_path: Path):
    folder = tmp_path / "history"
    artifact = build_artifact(ENVIRONMENT, [make_result()])
    first, second = append(folder, artifact), append(folder, artifact)  # the same run twice: two entries
    assert first != second and first.is_file() and second.is_file()
    older = build_artifact({**ENVIRONMENT, "created": "2020-01-01T00:00:00+00:00"}, [make_result()])
    append(folder, older)
    runs = load(folder)
    assert [r.created for r in runs] == sorted(r.created for r in runs) and len(runs) == 3
    assert json.loads((folder / "index.json").read_text())["runs"][0]["file"].startswith("runs/2020-01-01")
    (key, points), = series(runs).items()
    assert len(points) == 3 and key[1] == ENVIRONMENT["hardware_key"]


@pytest.mark.parametrize("values, expected", [
    ([4.6, 4.7, 4.6, 3.9, 3.8, 3.9], 3),  # a 17% drop from run 4 on
    ([4.6, 4.7, 4.5, 4.6, 4.7, 4.6], None),  # noise
    ([4.6, 3.5], None),  # too short to call
    ([4.0, 4.0, 4.1, 4.0, 4.6, 4.7], 4),
])
def test_a_step_change_is_found_where_the_median_moves_ten_percent(values, expected):
    assert step(values) == expected


# ---- the plugin and the command line ------------------------------------------------------------------


TEST_FILE = """
import pytest

@pytest.mark.qbench(approach=["dynamic"], operators=[["Add", "MatMul"]], batch_size=[1, 2], sequence_length=[16, 32])
def test_tiny(qbench):
    qbench.check()
"""


def test_html_and_history_options_end_to_end(pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache):
    make_project(pytester, tiny_distilbert, tiny_build_cache.root, TEST_FILE)
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=4)
    for _ in range(2):
        result = pytester.runpytest("--qbench", "--qbench-html", "out/report.html", "--qbench-history", "history")
        result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*history entry written to*", "*HTML report written to*out/report.html"])
    assert len(load(pytester.path / "history")) == 2
    page = (pytester.path / "out" / "report.html").read_text()
    assert "<h2>History</h2>" in page and page.count("<figure>") == 4

    from pytest_qbench.__main__ import main

    assert main(["report", str(pytester.path / ".qbench" / "results.json"), "-o", str(pytester.path / "again.html")]) == 0
    assert main(["history", str(pytester.path / "missing.json"), "--dir", str(pytester.path / "history")]) == 2


# ---- in a real browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _open(browser, path: Path, scheme: str = "light"):
    page = browser.new_page(color_scheme=scheme)
    seen = {"errors": [], "requests": [], "loaded": []}
    page.on("console", lambda message: seen["errors"].append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("requestfinished", lambda request: seen["loaded"].append(request.url))
    page.goto(path.as_uri())
    return page, seen


@BROWSER
def test_the_report_renders_in_chromium_without_errors_or_requests(browser, tmp_path: Path):
    path = tmp_path / "report.html"
    path.write_text(render(_results(), ENVIRONMENT, load(_history(tmp_path / "history", [4.6, 4.7, 4.6, 3.9, 3.8]))))
    page, seen = _open(browser, path)
    assert seen["errors"] == [] and seen["requests"] == [path.as_uri()]  # the file itself, nothing else
    assert page.locator("figure svg").count() == 4 and all(page.locator("figure svg").nth(i).bounding_box()["width"] > 200 for i in range(4))
    assert page.locator("#gate tr.case").first.get_attribute("class") == "case verdict-fail"
    assert page.title() == "pytest-qbench: fail"
    page.close()


@BROWSER
def test_the_content_security_policy_blocks_any_request(browser, tmp_path: Path):
    path = tmp_path / "tampered.html"
    path.write_text(render(_results(), ENVIRONMENT).replace("</body>", "<img src='http://127.0.0.1:9/x.png'></body>"))
    page, seen = _open(browser, path)
    # Chromium reports the attempt, then refuses it: nothing but the file itself is ever loaded.
    assert seen["loaded"] == [path.as_uri()] and any("Content Security Policy" in e for e in seen["errors"])
    page.close()


@BROWSER
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_chart_ink_follows_the_page_colour_in_light_and_dark(browser, tmp_path: Path, scheme: str):
    path = tmp_path / "report.html"
    path.write_text(render(_results(), ENVIRONMENT))
    page, _ = _open(browser, path, scheme)
    body = page.evaluate("getComputedStyle(document.body).color")
    ink = page.evaluate("getComputedStyle(document.querySelector('figure svg text')).fill")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert ink == body and background == {"light": "rgb(255, 255, 255)", "dark": "rgb(13, 17, 23)"}[scheme]
    page.close()


def test_the_charts_draw_the_limits_the_checks_were_held_to():
    page = render(_results(), ENVIRONMENT)
    assert "<td>4.273</td>" in page  # the passing case's speedup floor: baseline 4.70 / (1 + rtol 0.1)
    assert "<td>0.93</td>" in page  # its lowest allowed F1: 0.940 - max loss 0.01


def test_a_machine_without_latency_baselines_still_shows_its_speedups_and_says_why_once():
    """A first run on a new key: the gate table's "now" speedup columns are filled, the long not-gated
    reason is written once under the table, and the header counts the xfail apart from the failures."""
    reason = "latency recorded, not gated: baseline recorded on hardware 'x86_64-avx2-2c', this machine is 'x86_64-amx-2c'"
    results = []
    for batch in (1, 4):
        result = make_result(batch_size=batch)
        result.checks = [Check("f1", "original", "pass", 0.939, 0.94, "max loss 0.01", "ok"),
                         Check("latency", "baseline", "skip", None, None, "hardware key x86_64-amx-2c", reason)]
        result.verdict = "pass"
        results.append(result)
    xfailed = make_result(batch_size=8, f1=(0.94, 0.1))
    xfailed.checks = [Check("f1", "original", "fail", 0.1, 0.94, "max loss 0.01", "lost")]
    xfailed.verdict, xfailed.expected_failure = "fail", True
    page = render([*results, xfailed], ENVIRONMENT)
    speedup = results[0].latency.cpu.speedup
    assert f"{speedup.value:.4g} <span class='muted'>({speedup.ci_low:.2f}–{speedup.ci_high:.2f})</span>" in page
    assert page.count("not gated</td>") == 2
    assert page.count(reason.replace("'", "&#x27;")) == 1
    assert "2 pass, 1 expected failure" in page and "1 fail" not in page
