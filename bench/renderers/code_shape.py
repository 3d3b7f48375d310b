"""docs/BENCHMARKS.md's code-shape tables (bench/code_shape.py): the package's shape at each recorded
commit, side by side, oldest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import Result, table

LARGEST = 6  # modules listed by size, per commit
BIG_MODULE = 400  # lines


def _name(path: str) -> str:
    return path.removeprefix("pytest_qbench/")


def _rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    figures: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("modules (lines)", lambda e: f"{e['modules']} ({e['lines']})"),
        (f"modules over {BIG_MODULE} lines", lambda e: sum(n > BIG_MODULE for n in e["module_lines"].values())),
        ("functions over 50 lines", lambda e: len(e["long_functions"])),
        ("`dict[str, Any]`", lambda e: e["dict_str_any"]),
        ("imports inside functions", lambda e: e["function_imports"]["total"]),
        ("… of the package's own modules", lambda e: e["function_imports"]["project"]),
        ("… heavy: they load an ML or numeric library", lambda e: e["function_imports"]["heavy"]),
        ("… cheap: they load only the standard library, pytest and the package",
         lambda e: e["function_imports"]["cheap"]),
        ("lines over 120 characters", lambda e: e["long_lines"]),
        ("mypy --strict errors (files)", lambda e: f"{e['mypy']['errors']} ({len(e['mypy']['by_file'])})"),
    ]
    return [[label, *(str(figure(e)) for e in entries)] for label, figure in figures]


def _largest(entries: list[dict[str, Any]]) -> list[list[str]]:
    ranked = [list(e["module_lines"].items())[:LARGEST] for e in entries]
    return [[str(rank + 1), *(f"{_name(m[rank][0])} {m[rank][1]}" if rank < len(m) else "" for m in ranked)]
            for rank in range(LARGEST)]


def _yardstick(entries: list[dict[str, Any]]) -> str:
    sticks = {(e["yardstick"]["mypy"], e["yardstick"]["python"]) for e in entries}
    said = "; ".join(f"{mypy} on Python {python}" for mypy, python in sorted(sticks))
    return f"{said}, with the [tool.mypy] configuration the entry records (strict; untyped libraries ignored by name)"


def render_code_shape(result: Result) -> str:
    entries = result.data["commits"]
    header = ["", *(f"{e['short']} ({e['date'][:10]})" for e in entries)]
    longest = "; ".join(
        f"{e['short']}: " + (", ".join(f"{_name(name)} ({lines})" for name, lines in e["long_functions"]) or "none")
        for e in entries)
    commits = " ".join(e["short"] for e in entries)
    return "\n".join([
        table(header, _rows(entries)),
        "",
        f"The {LARGEST} largest modules, lines:",
        "",
        table(["rank", *(e["short"] for e in entries)], _largest(entries)),
        "",
        f"Functions over 50 lines: {longest}.",
        "",
        f"Type check: {_yardstick(entries)}. Measured {max(e['measured'] for e in entries)[:10]}."
        f" Reproduce: `.venv/bin/python bench/code_shape.py {commits}`. Raw numbers: `{result.path}`"
        " (per commit: every module's lines, every cheap import inside a function, mypy's errors per file).",
    ])


def render_refactor_equivalence(result: Result) -> str:
    """bench/artifact_equivalence.py: the example gate's artifact before and after a refactoring."""
    from .common import footer, run_of

    data = result.data
    cases = data["cases"]
    timing = data["timing_differences"]
    rows = [
        ["cases (node ids)", f"{cases['before']} / {cases['after']}, {cases['shared']} shared"],
        ["evaluated cases: accuracy figures differing (any digit)", f"{len(data['accuracy_differences'])} of "
         f"{2 * data['evaluated_cases']} evaluations"],
        ["checks: status differing, not a timing check", f"{len(data['other_differences'])} of {data['checks']}"],
        ["checks: status differing, a timing check (noise)", str(len(timing))],
    ]
    parts = [table([f"{data['before_commit']} → {data['after_commit']}", ""], rows)]
    listed = [*data["other_differences"], *timing, *data["accuracy_differences"]]
    if listed:
        parts += ["", *(f"- `{d['case']}` {d.get('check', d.get('side'))}: {d.get('before', '')} → {d.get('after', '')}"
                        for d in listed)]
    parts += ["", footer(run_of(data["info"]),
                         f".venv/bin/python bench/artifact_equivalence.py BEFORE.json AFTER.json --before-commit "
                         f"{data['before_commit']} --after-commit {data['after_commit']}", result.path,
                         f"; both artifacts from `{data['command']}`")]
    return "\n".join(parts)
