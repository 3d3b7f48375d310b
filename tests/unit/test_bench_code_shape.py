"""bench/code_shape.py's counts on a small package written here (mypy's count is the checker's own), and
its renderer: the commits side by side, oldest first."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import code_shape  # noqa: E402
from renderers import Result, render_code_shape  # noqa: E402

FILES = {
    "__init__.py": "",
    "errors.py": "class Error(Exception):\n    pass\n",
    # imports numpy at the top, so importing it is heavy; its TYPE_CHECKING import loads nothing
    "stats.py": "from typing import TYPE_CHECKING\n\nimport numpy\n\nif TYPE_CHECKING:\n    import torch\n",
    "light.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import torch\n",
    "sub/__init__.py": "",
    "sub/uses.py": (
        "from typing import Any\n\n\n"
        "def f() -> dict[str, Any]:\n"
        "    import json\n"
        "    from ..errors import Error\n"
        "    from .. import light\n"
        "    from ..stats import numpy\n"
        "    import onnxruntime\n"
        "    return {}\n\n\n"
        "class C:\n"
        "    def long(self) -> None:\n" + "        pass\n" * 50 + "\n"
        f"LONG = {'x' * 120!r}\n"
    ),
}


def _tree(root: Path) -> dict[str, code_shape.Module]:
    for name, text in FILES.items():
        path = root / "pytest_qbench" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return code_shape.modules(root)


def test_a_module_loads_its_libraries_and_those_of_the_modules_it_imports_but_not_its_type_checking_ones(
        tmp_path: Path):
    found = code_shape.libraries(_tree(tmp_path))
    assert (found["pytest_qbench.stats"], found["pytest_qbench.light"]) == ({"typing", "numpy"}, {"typing"})
    assert found["pytest_qbench.sub.uses"] == {"typing"}  # its imports inside functions are not loaded with it


def test_imports_inside_functions_are_counted_and_told_cheap_from_heavy(tmp_path: Path):
    counts = code_shape.function_imports(_tree(tmp_path))
    assert (counts["total"], counts["project"], counts["stdlib"], counts["heavy"], counts["cheap"]) == (5, 3, 1, 2, 3)
    where = "pytest_qbench/sub/uses.py"
    assert counts["cheap_imports"] == [f"{where}:5 json", f"{where}:6 pytest_qbench.errors",
                                       f"{where}:7 pytest_qbench.light"]


def test_a_function_over_50_lines_is_named_with_its_class(tmp_path: Path):
    assert code_shape.long_functions(_tree(tmp_path)) == [("pytest_qbench/sub/uses.py:C.long", 51)]


def _entry(short: str, date: str, errors: int) -> dict:
    return {
        "short": short, "date": date, "modules": 2, "lines": 700,
        "module_lines": {"pytest_qbench/a.py": 600, "pytest_qbench/b.py": 100},
        "long_functions": [["pytest_qbench/a.py:f", 60]], "dict_str_any": 4,
        "function_imports": {"total": 9, "project": 5, "heavy": 4, "cheap": 3}, "long_lines": 7,
        "mypy": {"errors": errors, "by_file": {"pytest_qbench/a.py": errors} if errors else {}},
        "measured": "2026-12-06T10:00:00+00:00", "yardstick": {"mypy": "mypy 2.4.1", "python": "3.11.7"},
    }


def test_the_renderer_puts_the_commits_side_by_side():
    text = render_code_shape(Result("bench/results/code-shape.json",
                                    {"commits": [_entry("aaa1111", "2026-12-02T10:00:00+00:00", 12),
                                                 _entry("bbb2222", "2026-12-07T10:00:00+00:00", 0)]}))
    assert "|  | aaa1111 (2026-12-02) | bbb2222 (2026-12-07) |" in text
    assert "| mypy --strict errors (files) | 12 (1) | 0 (0) |" in text
    assert "| 1 | a.py 600 | a.py 600 |" in text
    assert "`.venv/bin/python bench/code_shape.py aaa1111 bbb2222`" in text
