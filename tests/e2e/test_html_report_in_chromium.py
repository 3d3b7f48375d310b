"""The HTML report end to end: the plugin's options through pytester, and the page in a real headless
Chromium (Debian's, driven by Playwright through the system binary)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from factories import ENVIRONMENT
from projects import make_project
from test_html_report import _history, _results, _whole_run

from pytest_qbench.gate.rules import RunOutcome
from pytest_qbench.report.history import load
from pytest_qbench.report.html import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


BROWSER = pytest.mark.skipif(
    CHROMIUM is None or importlib.util.find_spec("playwright") is None,
    reason="needs Debian's chromium (apt install chromium; .ci/run installs it where apt exists) and playwright",
)


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

    assert (
        main(["report", str(pytester.path / ".qbench" / "results.json"), "-o", str(pytester.path / "again.html")]) == 0
    )
    assert main(["history", str(pytester.path / "missing.json"), "--dir", str(pytester.path / "history")]) == 2


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
    path.write_text(
        render(RunOutcome(_results()), ENVIRONMENT, load(_history(tmp_path / "history", [4.6, 4.7, 4.6, 3.9, 3.8])))
    )
    page, seen = _open(browser, path)
    assert seen["errors"] == [] and seen["requests"] == [path.as_uri()]  # the file itself, nothing else
    assert page.locator("figure svg").count() == 4 and all(
        page.locator("figure svg").nth(i).bounding_box()["width"] > 200 for i in range(4)
    )
    assert page.locator("#gate tr.case").first.get_attribute("class").startswith("case verdict-fail ")
    assert page.title() == "pytest-qbench: fail"
    page.close()


@BROWSER
def test_chromium_shows_the_answer_first_then_the_charts_and_filters_the_collapsed_tables(browser, tmp_path: Path):
    path = tmp_path / "report.html"
    path.write_text(render(RunOutcome(_whole_run()), ENVIRONMENT))
    page, seen = _open(browser, path)
    assert seen["errors"] == []

    def top(selector: str) -> float:
        return page.locator(selector).first.bounding_box()["y"]

    # the verdict, the counts and what failed, then the speedup chart, then the collapsed tables
    assert top("h1") < top("#counts") < top("ul.attention") < top("figure svg") < top("details.table")
    assert page.locator("details[open]").count() == 0 and not page.locator("#gate").is_visible()
    charts = page.locator("figure svg")  # speedup, latency, F1, runtimes, budget: each drawn
    assert charts.count() == 5 and all(charts.nth(i).bounding_box()["width"] > 200 for i in range(5))
    assert all(charts.nth(i).locator("text").count() > 5 for i in range(5))

    page.locator("details.table summary").click()
    assert page.locator("#gate tr.case:visible").count() == 5
    page.locator("label[for='test-1']").click()  # the second test only
    visible = page.locator("#gate tr.case:visible")
    assert visible.count() == 2 and all("test-1" in visible.nth(i).get_attribute("class") for i in range(2))
    page.locator("label[for='test-all']").click()
    assert page.locator("#gate tr.case:visible").count() == 5
    page.close()


@BROWSER
def test_the_content_security_policy_blocks_any_request(browser, tmp_path: Path):
    path = tmp_path / "tampered.html"
    path.write_text(render(RunOutcome(_results()), ENVIRONMENT).replace("</body>", "<img src='http://127.0.0.1:9/x.png'></body>"))
    page, seen = _open(browser, path)
    # Chromium reports the attempt, then refuses it: nothing but the file itself is ever loaded.
    assert seen["loaded"] == [path.as_uri()] and any("Content Security Policy" in e for e in seen["errors"])
    page.close()


@BROWSER
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_chart_ink_follows_the_page_colour_in_light_and_dark(browser, tmp_path: Path, scheme: str):
    path = tmp_path / "report.html"
    path.write_text(render(RunOutcome(_results()), ENVIRONMENT))
    page, _ = _open(browser, path, scheme)
    body = page.evaluate("getComputedStyle(document.body).color")
    ink = page.evaluate("getComputedStyle(document.querySelector('figure svg text')).fill")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert ink == body and background == {"light": "rgb(255, 255, 255)", "dark": "rgb(13, 17, 23)"}[scheme]
    page.close()
