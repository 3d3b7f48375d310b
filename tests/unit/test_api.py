"""The declared public API (`pytest_qbench.__all__`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_qbench


def test_every_public_name_resolves_and_is_listed():
    assert sorted(dir(pytest_qbench)) == sorted(pytest_qbench.__all__)
    assert sorted(pytest_qbench.__all__) == sorted(["__version__", *pytest_qbench._PUBLIC])
    for name in pytest_qbench.__all__:
        assert getattr(pytest_qbench, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        pytest_qbench.nothing  # noqa: B018


def _declared(module) -> set[str]:
    return {name for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, BaseException) and name.startswith("Qbench")}


def test_every_exception_and_warning_lives_in_errors_and_a_failed_check_in_outcomes():
    from pytest_qbench import errors, outcomes

    public = {name for name in pytest_qbench.__all__ if name.startswith("Qbench") and name != "QbenchRun"}
    assert public == _declared(errors) | _declared(outcomes)
    assert _declared(outcomes) == {"QbenchCheckFailed", "QbenchAccuracyLost"}


def test_one_except_catches_every_error_and_one_filter_every_warning():
    from pytest_qbench import errors

    classes = [getattr(errors, name) for name in _declared(errors)]
    warnings = [c for c in classes if issubclass(c, Warning)]
    raised = [c for c in classes if issubclass(c, Exception) and c not in warnings]
    assert len(raised) == 10 and all(issubclass(c, pytest_qbench.QbenchError) for c in raised)
    assert len(warnings) == 4 and all(issubclass(c, pytest_qbench.QbenchWarning) for c in warnings)
    for value_error in (
        "QbenchConfigError",
        "QbenchDataError",
        "QbenchModelError",
        "QbenchArtifactError",
        "QbenchMergeError",
    ):
        assert issubclass(getattr(errors, value_error), ValueError)
    # a cancelled run stops like Ctrl-C; a failed check is a test outcome that `except Exception` must not swallow
    assert not issubclass(pytest_qbench.QbenchTerminated, Exception)
    assert not issubclass(pytest_qbench.QbenchCheckFailed, Exception)


def test_the_errors_module_does_not_import_pytest():
    import ast
    from pathlib import Path

    from pytest_qbench import errors

    tree = ast.parse(Path(errors.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert "pytest" not in imported


def test_the_0_1_deep_paths_that_did_not_move_still_import():
    from pytest_qbench.hardware import hardware_from_cpuinfo
    from pytest_qbench.measure.data import parse_conll

    assert (parse_conll, hardware_from_cpuinfo) == (pytest_qbench.parse_conll, pytest_qbench.hardware_from_cpuinfo)


BENCH = Path(__file__).resolve().parents[2] / "bench"
# The internals a bench script may take, and why. A renderer may read an artifact with the report's own code,
# so that a docs table and the report it mirrors cannot disagree: the runtimes side by side (docs/RESULTS.md
# and report/runtimes.py). A replay of recorded measurements calls the gate's latency rule itself, the rule
# the runs used and the rule of today, on the same numbers (bench/slow_looks.py, docs/BENCHMARKS.md §8f).
INTERNALS_TAKEN = {
    "renderers/results.py": {"pytest_qbench.report.runtimes"},
    "slow_looks.py": {"pytest_qbench.gate.latency_stats", "pytest_qbench.gate.spread", "pytest_qbench.measure.stats",
                      "pytest_qbench.report.history", "pytest_qbench.results", "pytest_qbench.specs"},
}


def _internal(tree: ast.AST) -> set[str]:
    """What `tree` takes of pytest_qbench beside its public API: imports of a module under it (`import
    pytest_qbench.x`, `from pytest_qbench.x import y`), and names of it not in `__all__` (imported from
    it, or read as `pytest_qbench.name`)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("pytest_qbench.")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pytest_qbench."):
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "pytest_qbench":
            found |= {f"pytest_qbench.{a.name}" for a in node.names if a.name not in pytest_qbench.__all__}
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "pytest_qbench":
            found |= {f"pytest_qbench.{node.attr}"} - {f"pytest_qbench.{name}" for name in pytest_qbench.__all__}
    return found


@pytest.mark.parametrize("script", sorted(p.relative_to(BENCH).as_posix() for p in BENCH.rglob("*.py")))
def test_bench_scripts_use_only_the_public_api(script: str):
    """bench/ builds, measures and judges through the public API (the pipeline of a case, pipeline.py),
    so the package's internals can move without breaking it; finished studies are archived (bench/ARCHIVE.md)."""
    internal = _internal(ast.parse((BENCH / script).read_text()))
    assert {name.rsplit(".", 1)[0] for name in internal} <= INTERNALS_TAKEN.get(script, set()), internal


def test_the_bench_import_check_finds_a_deep_import_and_an_unlisted_name():
    tree = ast.parse("import pytest_qbench.pipeline\nfrom pytest_qbench.measure.latency import measure\n"
                     "from pytest_qbench import Pipeline, detect\nimport pytest_qbench\n"
                     "pytest_qbench.CaseSpec, pytest_qbench.fingerprint\n")
    assert _internal(tree) == {"pytest_qbench.pipeline", "pytest_qbench.measure.latency.measure",
                               "pytest_qbench.detect", "pytest_qbench.fingerprint"}
