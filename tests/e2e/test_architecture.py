"""The layers of the package (pyproject.toml, [tool.importlinter]) hold: every import points down.

A new upward import fails here, and lint-imports' report names the contract it breaks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e '.[dev]')"
)


def _lint(root: Path) -> subprocess.CompletedProcess:
    # --no-cache: the tree under test changes between runs; PYTHONPATH: the package of `root`, not the installed one.
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def test_every_import_points_down():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_fails_naming_the_contract(tmp_path: Path):
    shutil.copytree(ROOT / "pytest_qbench", tmp_path / "pytest_qbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    measure = tmp_path / "pytest_qbench" / "measure" / "stats.py"
    measure.write_text(
        measure.read_text() + "\n\ndef _upward():\n    from ..report.markdown import markdown  # noqa: F401\n"
    )
    result = _lint(tmp_path)
    assert result.returncode == 1
    assert "the layers: every import points down BROKEN" in " ".join(result.stdout.split())
    assert "pytest_qbench.measure.stats -> pytest_qbench.report.markdown" in result.stdout
