"""One self-contained HTML file a person reads after a run. It leads with the answer: the verdict, the
cases of each verdict, what failed or was inconclusive and why, and the speedup chart. Then the gate
table with failing rows first (collapsed), the other matplotlib charts inlined as SVG (latency against
sequence length, F1 with the allowed loss, the runtimes side by side and the throughput within a
latency budget where a run has them, trends over the history), the label maps and the diagnosis.

Offline by construction: no script, no external resource, and a Content-Security-Policy that forbids
any request. The long tables are collapsed (<details>) and filtered by test with radio inputs and
CSS `:checked` rules. Charts draw their ink in the page's text colour (`currentColor`), so they read in
light and dark; each has a caption and its numbers in a table as the text alternative.
"""

from __future__ import annotations

import html
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from ..gate.rules import RunOutcome
from ..results import Against, CaseResult, Check, Diagnosis, Environment, Metric, Status
from ..specs import DiagnosisSpec
from .content import (
    BUDGET_TITLE,
    CONFIRMED_TITLE,
    LABEL_MAP_HEADERS,
    NODE_HEADERS,
    BudgetedCase,
    budget_line,
    budgeted,
    confirmed_in_run,
    failure_lines,
    inconclusive_lines,
    label_map_rows,
    label_map_text,
    mapped_cases,
    node_rows,
    original_precision,
    repair_line,
    scoring_lines,
)
from .runtimes import RUNTIME_HEADERS, RUNTIMES_TITLE, RuntimeRow, best_lines, runtime_cells, runtime_rows

if TYPE_CHECKING:
    from .history import Run

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_INK = "#010203"  # matplotlib's ink, replaced by currentColor in the SVG text
_ORDER = {Status.ERROR: 0, Status.FAIL: 1, Status.INCONCLUSIVE: 2, Status.SKIP: 3, Status.UPDATED: 4, Status.PASS: 5}
# counted at the top; an expected failure counts as xfail whatever its verdict
VERDICTS = (Status.PASS, Status.FAIL, Status.INCONCLUSIVE, Status.SKIP, Status.ERROR, Status.UPDATED, "xfail")
STYLE = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de;
        --fail: #cf222e; --pass: #1a7f37; --warn: #9a6700; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d;
          --fail: #ff7b72; --pass: #3fb950; --warn: #d29922; } }
body { background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid var(--line); padding-bottom: .3rem; margin-top: 2.5rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-fail, .status-error { color: var(--fail); font-weight: 600; }
.status-pass, .status-updated { color: var(--pass); }
.status-inconclusive, .status-skip { color: var(--warn); } .status-xfail { color: var(--muted); }
#counts { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem 1.5rem; font-size: 1.05rem; }
#counts .none { color: var(--muted); font-weight: 400; } input[name=test] + label { margin-right: 1rem; }
.verdict { font-size: 1.2rem; font-weight: 700; } .muted { color: var(--muted); }
figure { margin: 1.5rem 0; } figure svg { max-width: 100%; height: auto; } figcaption { color: var(--muted); }
details { margin: .5rem 0 1rem; } code { font-size: .85rem; }
"""


def render(outcome: RunOutcome, environment: Environment, history: Sequence[Run] = ()) -> str:
    results = outcome.results
    verdict = str(outcome.verdict) if results else "empty"
    tests = {test: index for index, test in enumerate(dict.fromkeys(r.test for r in results))}
    parts = [
        f"<h1>pytest-qbench report <span class='verdict status-{verdict}'>{verdict}</span></h1>",
        _counts(results), *_attention(results),
        "<h2>Speedup against the baseline</h2>", _speedup_figure(results),
        "<h2>This run</h2>", _header(environment),
        *_test_filter(tests), "<div class='filtered'>",
        "<h2>Gate</h2>", _gate_table(results, tests),
        "<h2>Latency against sequence length</h2>", _latency_figure(results),
        "<h2>Accuracy</h2>", *(f"<p>{_escape(line)}</p>" for line in scoring_lines(results)), _f1_figure(results),
        *_label_maps(results), *_runtimes(results, tests), *_budgets(results, tests),
    ]
    if history:
        parts += ["<h2>History</h2>", _history_figure(history, results)]
    diagnosed = {r.diagnosis.case_id: r.diagnosis for r in results if r.diagnosis is not None}
    for case_id, diagnosis in diagnosed.items():
        parts += [f"<h2>Diagnosis: {_escape(case_id)}</h2>", _diagnosis(diagnosis)]
    body = "\n".join([*parts, "</div>"])
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>pytest-qbench: {verdict}</title><style>{STYLE}{_filter_style(tests)}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _counts(results: list[CaseResult]) -> str:
    """How many cases had each verdict, an expected failure counted as xfail whatever its verdict."""
    counts = Counter("xfail" if r.expected_failure else r.verdict for r in results)
    items = "".join(f"<li class='status-{v}{'' if counts[v] else ' none'}'><strong>{counts[v]}</strong> {v}</li>"
                    for v in VERDICTS)
    return f"<ul id='counts'>{items}</ul>"


def _attention(results: list[CaseResult]) -> list[str]:
    """What failed, what was inconclusive, and which cases were measured again, one line each."""
    sections = [("Failed", failure_lines(results)), ("Inconclusive (not failed)", inconclusive_lines(results)),
                (f"Cases {CONFIRMED_TITLE}", confirmed_in_run(results))]
    return [f"<p>{_escape(title)}:</p><ul class='attention'>"
            f"{''.join(f'<li>{_escape(line)}</li>' for line in lines)}</ul>"
            for title, lines in sections if lines]


# ---- the test filter of the collapsed tables -----------------------------------------------------------

def _test_filter(tests: dict[str, int]) -> list[str]:
    """Radio inputs, siblings of the `.filtered` content, whose :checked state hides the rows of other tests."""
    if len(tests) < 2:
        return []
    choices = [("all", "every test", True), *((str(i), test, False) for test, i in tests.items())]
    return ["<p class='muted'>The rows of the tables below, of:</p>", *(
        f"<input type='radio' name='test' id='test-{key}'{' checked' if checked else ''}>"
        f"<label for='test-{key}'>{_escape(label)}</label>" for key, label, checked in choices)]


def _filter_style(tests: dict[str, int]) -> str:
    return "".join(f"#test-{i}:checked ~ .filtered tr.t:not(.test-{i}) {{ display: none; }}\n"
                   for i in tests.values()) if len(tests) > 1 else ""


def _row_class(tests: Iterable[str], index: dict[str, int]) -> str:
    """The class of a row the test filter shows for each of `tests`."""
    return " ".join(["t", *(f"test-{index[test]}" for test in tests)])


def _collapsed(summary: str, content: str) -> str:
    return f"<details class='table'><summary>{_escape(summary)}</summary>{content}</details>"


# ---- runtimes and budgets ------------------------------------------------------------------------------

def _runtimes(results: list[CaseResult], tests: dict[str, int]) -> list[str]:
    rows = runtime_rows(results)
    if not rows:
        return []
    table = _table(["model", "shape", *RUNTIME_HEADERS], ([r.model, r.shape, *runtime_cells(r)] for r in rows),
                   [_row_class(r.tests, tests) for r in rows])
    compared = any(r.over_ort_fp32 is not None for r in rows)  # else no ONNX Runtime case to draw against
    shown = _figure(*_runtimes_figure(rows), table) if compared else _collapsed("The numbers", table)
    return ["<h2>Runtimes side by side</h2>", f"<p class='muted'>{_escape(RUNTIMES_TITLE)}</p>", shown,
            *(f"<p>{_escape(line)}</p>" for line in best_lines(rows))]


def _budgets(results: list[CaseResult], tests: dict[str, int]) -> list[str]:
    cases = budgeted(results)
    if not cases:
        return []
    table = _table(["test", "case (budget, threads): the most throughput within it"],
                   ([c.result.test, budget_line(c)] for c in cases),
                   [_row_class([c.result.test], tests) for c in cases])
    return ["<h2>Throughput within the latency budget</h2>", f"<p class='muted'>{_escape(BUDGET_TITLE)}</p>",
            _figure(*_budget_figure(cases), table)]


def _escape(value: Any) -> str:
    """`value` as HTML text, quotes escaped too (it also fills attributes)."""
    return html.escape(str(value), quote=True)


def _header(env: Environment) -> str:
    libraries = ", ".join(f"{k} {v}" for k, v in sorted(env.libraries.items()) if v)
    rows = [
        ("Commit", f"<code>{_escape(env.git_commit or 'unknown')}</code>"),
        ("Hardware key", f"<code>{_escape(env.hardware_key)}</code> ({_escape(env.brand)})"),
        ("Versions",
         _escape(f"pytest-qbench {env.qbench_version or '?'}, Python {env.python}, {libraries}")),
        ("Created", _escape(env.created)),
    ]
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


# ---- the gate table --------------------------------------------------------------------------------

def _rank(result: CaseResult) -> tuple[int, int, str]:
    return (1 if result.expected_failure else 0, _ORDER[result.verdict], result.nodeid)


def _headline(result: CaseResult, metric: Metric) -> Check | None:
    """The case's check of `metric` against the baseline, else against the original."""
    checks = [c for c in result.checks if c.metric is metric]
    return next((c for c in checks if c.against is Against.BASELINE), checks[0] if checks else None)


def _cells(result: CaseResult, metric: Metric, ratio: bool) -> str:
    check = _headline(result, metric)
    if metric is Metric.CPU_SPEEDUP and result.latency is not None:  # measured even where it is not gated
        s = result.latency.cpu.speedup
        now = f"{s.value:.4g} <span class='muted'>({s.ci_low:.2f}–{s.ci_high:.2f})</span>"
        if check is None:
            said = "not gated" if result.latency_not_gated else ""
            return f"<td class='num'></td><td class='num'>{now}</td><td class='num muted'>{said}</td>"
    elif check is None or check.measured is None:
        return "<td></td><td></td><td></td>"
    else:
        now = f"{check.measured:.4g}"
    change = ""
    if check.expected and check.measured is not None:
        delta = check.measured / check.expected - 1 if ratio else check.measured - check.expected
        delta = 0.0 if abs(delta) < 5e-5 else delta  # no "-0.0000"
        change = f"{delta:+.1%}" if ratio else f"{delta:+.4f}"
    return (f"<td class='num'>{_number(check.expected)}</td><td class='num'>{now}</td>"
            f"<td class='num status-{check.status}'>{change}</td>")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _gate_table(results: list[CaseResult], tests: dict[str, int]) -> str:
    """One row per case, failing first: F1 and the CPU-time speedup against their baseline (or, for F1
    without one, the original), the verdict and every check that did not pass; collapsed."""
    head = ("<tr><th rowspan='2'>test / case</th><th colspan='3'>F1</th><th colspan='3'>CPU-time speedup (95% CI)</th>"
            "<th rowspan='2'>verdict</th><th rowspan='2'>checks not passed</th></tr>"
            "<tr><th>baseline</th><th>now</th><th>change</th><th>baseline</th><th>now</th><th>change</th></tr>")
    rows = []
    ungated = {c.reason for r in results for c in r.checks if c.latency_not_gated}
    for result in sorted(results, key=_rank):
        # the reason latency was not gated is said once, under the table
        others = [c for c in result.checks if c.status not in (Status.PASS, Status.UPDATED) and not c.latency_not_gated]
        notes = "<br>".join(f"<span class='status-{c.status}'>{_escape(c.status)}</span> {_escape(c.metric)}: "
                            f"{_escape(c.reason)}" for c in others)
        if result.error:
            notes = (f"<span class='status-error'>error</span> {_escape(result.error)}"
                     + (f"<br>{notes}" if notes else ""))
        xfail = " <span class='muted'>(xfail)</span>" if result.expected_failure else ""
        rows.append(
            f"<tr class='case verdict-{result.verdict} {_row_class([result.test], tests)}'>"
            f"<td>{_escape(result.test.split('::')[-1])}<br><code>{_escape(result.case_id)}</code>{xfail}</td>"
            f"{_cells(result, Metric.F1, ratio=False)}{_cells(result, Metric.CPU_SPEEDUP, ratio=True)}"
            f"<td class='status-{result.verdict}'>{_escape(result.verdict)}</td><td>{notes}</td></tr>"
        )
    said_once = "".join(f"<p class='muted'>{_escape(reason)}</p>" for reason in sorted(ungated))
    table = f"<table id='gate'>{head}{''.join(rows)}</table>"
    return _collapsed(f"The gate table: {len(results)} cases, failing first", table) + said_once


# ---- charts ------------------------------------------------------------------------------------------

def _svg(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", transparent=True, bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and doctype: inline SVG
    return text.replace(_INK, "currentColor")


def _figure(draw_svg: str, caption: str, table: str) -> str:
    return (f"<figure><div role='img' aria-label='{_escape(caption)}'>{draw_svg}</div>"
            f"<figcaption>{_escape(caption)}</figcaption>"
            f"<details><summary>The numbers</summary>{table}</details></figure>")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"text.color": _INK, "axes.labelcolor": _INK, "axes.edgecolor": _INK, "xtick.color": _INK,
                         "ytick.color": _INK, "svg.fonttype": "none", "font.size": 10, "svg.hashsalt": "qbench"})
    return plt


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], classes: Sequence[str] = ()) -> str:
    """The rows as an HTML table; the i-th row of class `classes[i]` where given."""
    head = "".join(f"<th>{_escape(h)}</th>" for h in headers)
    body = "".join((f"<tr class='{name}'>" if name else "<tr>")
                   + "".join(f"<td>{_escape(c)}</td>" for c in row) + "</tr>"
                   for row, name in zip_longest(rows, classes, fillvalue=""))
    return f"<table>{head and '<tr>' + head + '</tr>'}{body}</table>"


def _latency_figure(results: list[CaseResult]) -> str:
    measured = [r for r in results if r.latency is not None]
    if not measured:
        return "<p class='muted'>No latency was measured.</p>"
    plt, precision = _plt(), original_precision(measured)
    sizes = sorted({r.batch_size for r in measured})
    figure, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.4), squeeze=False, sharey=False)
    rows = []
    for axis, size in zip(axes[0], sizes, strict=True):
        variants = sorted({r.variant_id for r in measured if r.batch_size == size})
        for index, variant in enumerate(variants):
            points = sorted((r.sequence_length, r.latency.original.mean_ms, r.latency.optimized.mean_ms)
                            for r in measured
                            if r.batch_size == size and r.variant_id == variant and r.latency is not None)
            lengths = [p[0] for p in points]
            color = f"C{index}"
            axis.plot(lengths, [p[1] for p in points], "--o", color=color, alpha=.6, label=f"{variant} {precision}")
            axis.plot(lengths, [p[2] for p in points], "-s", color=color, label=f"{variant} int8")
            rows += [[size, variant, n, f"{o:.2f}", f"{q:.2f}"] for n, o, q in points]
        axis.set(title=f"batch size {size}", xlabel="sequence length", ylabel="mean latency, ms (wall)")
        axis.set_xticks(sorted({r.sequence_length for r in measured}))
    axes[0][-1].legend(fontsize=7, frameon=False)
    caption = (f"Mean wall-clock latency per call against sequence length, for each batch size: {precision} original"
               " dashed, int8 solid.")
    return _figure(_svg(figure), caption, _table(["batch", "variant", "length", f"{precision} ms", "int8 ms"], rows))


def _speedup_figure(results: list[CaseResult]) -> str:
    measured = [r for r in results if r.latency is not None]
    if not measured:
        return "<p class='muted'>No latency was measured.</p>"
    plt = _plt()
    figure, axis = plt.subplots(figsize=(max(6.0, .32 * len(measured)), 3.6))
    rows = []
    for x, result in enumerate(measured):
        if result.latency is None:
            continue
        s = result.latency.cpu.speedup
        check = next((c for c in result.checks if c.metric is Metric.CPU_SPEEDUP), None)
        color = "C3" if result.failing else "C0"
        axis.errorbar([x], [s.value], yerr=[[s.value - s.ci_low], [s.ci_high - s.value]], fmt="o", color=color,
                      capsize=3)
        baseline, floor = (check.expected, check.limit) if check else (None, None)
        if baseline is not None:
            axis.plot([x - .35, x + .35], [baseline] * 2, color=_INK, lw=1)
            if floor is not None:
                axis.fill_between([x - .35, x + .35], [floor] * 2, [baseline] * 2, color="C2", alpha=.25, lw=0)
        rows.append([result.case_id, f"{s.value:.2f}", f"{s.ci_low:.2f}–{s.ci_high:.2f}", _number(baseline),
                     _number(floor), result.verdict])
    axis.axhline(1.0, color=_INK, lw=.5, ls=":")
    axis.set_xticks(range(len(measured)), [r.case_id for r in measured], rotation=75, ha="right", fontsize=7)
    axis.set_ylabel(f"CPU-time speedup over the {original_precision(measured)} original")
    caption = ("CPU-time speedup of each case with its 95% interval (red: failing case); black tick: the baseline's"
               " speedup; green band: the slowdown the tolerance allows; dotted: no speedup.")
    headers = ["case", "speedup", "95% CI", "baseline", "tolerance floor", "verdict"]
    return _figure(_svg(figure), caption, _table(headers, rows))


def _f1_figure(results: list[CaseResult]) -> str:
    variants: dict[str, CaseResult] = {}
    for result in results:
        if result.accuracy_optimized is not None and result.accuracy_original is not None:
            variants.setdefault(f"{result.test.split('::')[-1]} {result.variant_id}", result)
    if not variants:
        return "<p class='muted'>No accuracy was measured.</p>"
    plt, precision = _plt(), original_precision(list(variants.values()))
    figure, axis = plt.subplots(figsize=(max(6.0, .9 * len(variants)), 3.4))
    rows = []
    for x, (name, result) in enumerate(variants.items()):
        if result.accuracy_original is None or result.accuracy_optimized is None:
            continue
        original, optimized = result.accuracy_original.f1, result.accuracy_optimized.f1
        check = next((c for c in result.checks if c.metric is Metric.F1 and c.against is Against.ORIGINAL), None)
        lowest = check.limit if check else None
        axis.bar([x - .2], [original], width=.4, color="C7", label=precision if x == 0 else None)
        axis.bar([x + .2], [optimized], width=.4, color="C3" if lowest is not None and optimized < lowest else "C0",
                 label="int8" if x == 0 else None)
        if lowest is not None:
            axis.plot([x - .45, x + .45], [lowest] * 2, color=_INK, lw=1.2)
        rows.append([name, f"{original:.4f}", f"{optimized:.4f}", _number(lowest)])
    axis.set_xticks(range(len(variants)), list(variants), rotation=30, ha="right", fontsize=7)
    averages = sorted({r.accuracy_original.average for r in variants.values() if r.accuracy_original is not None})
    axis.set(ylabel=f"F1 ({', '.join(averages)})", ylim=(0, 1))
    axis.legend(frameon=False, fontsize=8)
    caption = (f"F1 of each variant, {precision} original and int8 (red: below the allowed loss); black line: the"
               " lowest F1 the case allows.")
    return _figure(_svg(figure), caption, _table(["variant", f"F1 {precision}", "F1 int8", "lowest allowed"], rows))


def _label_maps(results: list[CaseResult]) -> list[str]:
    """What each label map did (the markdown report's table), once per model and evaluation setup."""
    return [part for mapped in mapped_cases(results) for part in (
        f"<p>{_escape(label_map_text(mapped))}</p>", _table(LABEL_MAP_HEADERS, label_map_rows(mapped.effect)))]


def _runtimes_figure(rows: list[RuntimeRow]) -> tuple[str, str]:
    """A bar per runtime and variant of each model and shape: its speedup over ONNX Runtime fp32, F1 beside it."""
    shown = [r for r in rows if r.over_ort_fp32 is not None]
    several = len({r.model for r in shown}) > 1
    runtimes = list(dict.fromkeys(r.runtime for r in shown))
    plt = _plt()
    figure, axis = plt.subplots(figsize=(8.0, 0.8 + 0.24 * len(shown)))
    ticks: list[tuple[float, str]] = []
    y, previous, named = 0.0, None, set[str]()
    for row in shown:
        y += 0.6 if previous not in (None, (row.model, row.shape)) else 0.0  # a gap between shapes
        previous = (row.model, row.shape)
        legend = not row.fp32 and row.runtime not in named  # the runtime's colour, unpaled
        axis.barh([y], [row.over_ort_fp32], height=0.8, color=f"C{runtimes.index(row.runtime)}",
                  alpha=0.55 if row.fp32 else 1.0, label=row.runtime if legend else None)
        if legend:
            named.add(row.runtime)
        f1 = "" if row.f1 is None else f", F1 {row.f1:.4f}"
        axis.text(row.over_ort_fp32, y, f" x{row.over_ort_fp32:.2f}{f1}", va="center", fontsize=7)
        ticks.append((y, f"{row.model + ' ' if several else ''}{row.shape} {row.runtime} {row.variant}"))
        y += 1.0
    axis.set_yticks([t[0] for t in ticks], [t[1] for t in ticks], fontsize=7)
    axis.invert_yaxis()
    axis.axvline(1.0, color=_INK, lw=0.5, ls=":")
    axis.set_xlim(0, 1.4 * max(r.over_ort_fp32 or 0.0 for r in shown))  # room for the labels
    axis.set_xlabel("CPU-time speedup over onnxruntime fp32 (one thread)")
    axis.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    caption = ("Each runtime and variant's CPU-time speedup over ONNX Runtime fp32 at the same model and shape, its F1"
               " beside it (pale: a runtime's fp32; dotted: no speedup)."
               " Medians of this run's cases, unpaired, not gated.")
    return _svg(figure), caption


def _budget_figure(cases: list[BudgetedCase]) -> tuple[str, str]:
    """Per budgeted case, the most throughput within its latency budget: original and int8."""
    plt, precision = _plt(), original_precision([c.result for c in cases])
    figure, axis = plt.subplots(figsize=(8.0, 0.8 + 0.5 * len(cases)))
    for y, case in enumerate(cases):
        budget = case.budget
        bars = ((precision, budget.original, "C7"), ("int8", budget.optimized, "C0"))
        for offset, (name, found, color) in enumerate(bars):
            value = 0.0 if found.best is None else found.best.throughput
            axis.barh([y - 0.2 + 0.4 * offset], [value], height=0.4, color=color, label=name if y == 0 else None)
            said = "none within the budget" if found.best is None else f"{value:.1f}/s"
            axis.text(value, y - 0.2 + 0.4 * offset, f" {said}", va="center", fontsize=7)
    axis.set_yticks(range(len(cases)), [f"{c.result.case_id}\np90 ≤ {c.budget.budget_ms:g} ms" for c in cases],
                    fontsize=7)
    axis.invert_yaxis()
    best = [f.best.throughput for c in cases for f in (c.budget.original, c.budget.optimized) if f.best]
    axis.set_xlim(0, 1.3 * max(best, default=1.0))  # room for the labels
    axis.set_xlabel("sequences per second within the budget (wall time)")
    axis.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    caption = (f"The most sequences per second whose p90 latency per request stays within the case's budget,"
               f" {precision} original and int8, across batch sizes and streams.")
    return _svg(figure), caption


def _history_figure(history: Sequence[Run], results: list[CaseResult], most: int = 12) -> str:
    """The speedup of this report's cases over the runs (the first `most` of them)."""
    from .history import series, step

    shown = {(r.nodeid.split("::")[-1], r.hardware_key) for r in results}
    lines = {key: points for key, points in sorted(series(history).items()) if key in shown}
    if not lines:
        return "<p class='muted'>No earlier runs of these cases with latency.</p>"
    plt = _plt()
    figure, axis = plt.subplots(figsize=(8, 3.6))
    rows = []
    for index, ((case, key), points) in enumerate(list(lines.items())[:most]):
        runs, values = [p[0] for p in points], [p[1] for p in points]
        axis.plot(runs, values, "-o", ms=3, color=f"C{index % 10}", label=case)
        change = step(values)
        if change is not None:
            axis.axvline(runs[change] - .5, color=f"C{index % 10}", ls="--", lw=1)
        rows.append([case, key, len(values), " ".join(f"{v:.2f}" for v in values),
                     "" if change is None else f"from run {runs[change] + 1}"])
    axis.set(xlabel="run (oldest first)", ylabel="CPU-time speedup")
    axis.set_xticks(range(len(history)), [str(i + 1) for i in range(len(history))])
    axis.legend(fontsize=6, frameon=False, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    caption = (f"CPU-time speedup of this report's cases over the {len(history)} recorded runs (at most {most} cases);"
               " a dashed line marks a step change (report/history.py).")
    return _figure(_svg(figure), caption, _table(["case", "hardware key", "runs", "speedups", "step"], rows))


def _diagnosis(diagnosis: Diagnosis, top: int = DiagnosisSpec.top) -> str:
    """The terminal's and the markdown report's diagnosis (report/content.py), as HTML."""
    repair = "" if diagnosis.repair is None else f"<p><strong>{_escape(repair_line(diagnosis.repair))}</strong></p>"
    return (f"<p><strong>Cause:</strong> {_escape(diagnosis.preflight.explanation)}</p>{repair}"
            + _table(NODE_HEADERS, node_rows(diagnosis, top)))
