"""The package type-checks under `mypy --strict`, and the package, tests, bench scripts and examples pass ruff
(pyproject.toml, [tool.mypy] and [tool.ruff]).

A wrong or missing hint, an overlong line or an unsorted import fails here, the checker's report naming
file:line; the untyped third-party libraries mypy cannot read are listed module by module in the config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
MYPY, RUFF = BIN / "mypy", BIN / "ruff"
# What ruff checks: every Python file of the project.
RUFF_PATHS = ("pytest_qbench", "tests", "bench", "examples")

pytestmark = pytest.mark.skipif(not (MYPY.exists() and RUFF.exists()),
                                reason="mypy or ruff is not installed (pip install -e '.[dev]')")


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH: the checkout's package, not an installed one.
    return subprocess.run([str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_type_check_is_strict(tmp_path: Path):
    # The config is strict, not switched off: an unannotated function fails, named by file and line.
    (tmp_path / "untyped.py").write_text("def double(x):\n    return 2 * x\n")
    result = _run(MYPY, "--config-file", ROOT / "pyproject.toml", "--cache-dir", tmp_path / "cache",
                  tmp_path / "untyped.py")
    assert result.returncode == 1
    assert "untyped.py:1: error: Function is missing a type annotation  [no-untyped-def]" in result.stdout


# A user's conftest under mypy --strict: py.typed and a literal __all__ make the names of `pytest_qbench`
# exported and typed (a computed __all__ fails with "does not explicitly export").
USER_MODULE = """
from pytest_qbench import CaseResult, CaseSpec, QbenchError, QbenchRun


def case_id(qbench: QbenchRun, spec: CaseSpec) -> str:
    return spec.id


def checks(result: CaseResult) -> int:
    return len(result.checks)


def caught(error: Exception) -> bool:
    return isinstance(error, QbenchError)
"""


def test_the_package_and_a_strict_user_of_it_type_check(tmp_path: Path):
    # One run, one cache (.mypy_cache, gitignored): a second mypy on it at the same time could corrupt it.
    (tmp_path / "user_conftest.py").write_text(USER_MODULE)
    result = _run(MYPY, "--config-file", ROOT / "pyproject.toml", ROOT / "pytest_qbench", tmp_path / "user_conftest.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_project_passes_ruff():
    result = _run(RUFF, "check", "--no-cache", *RUFF_PATHS)
    assert result.returncode == 0, result.stdout + result.stderr
