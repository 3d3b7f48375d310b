"""The shape of the package's code at a commit, measured the same way at every commit (issue 28): module
sizes, functions over 50 lines, `dict[str, Any]`, imports inside functions, lines over 120 columns, and
the errors of `mypy --strict`. Adds (or replaces) each commit's entry in bench/results/code-shape.json;
docs/BENCHMARKS.md renders them side by side (bench/renderers/code_shape.py: render_code_shape).

    .venv/bin/python bench/code_shape.py 38c3159 d9a76c5 HEAD

Each commit's `pytest_qbench/` is exported with `git archive` into a temporary folder (the checkout is
not touched) and measured there. mypy checks it with this checkout's [tool.mypy] configuration (strict,
the untyped libraries it ignores module by module) for every commit, so the counts share one
yardstick; the entry records that configuration and mypy's version.

What counts:
- a module's size is its number of lines; a function's, from its `def` line to its last line (methods
  and nested functions count on their own);
- an import inside a function is an `import` statement in a function body. What it loads counts with
  the package's own module-level imports it sets off (`if TYPE_CHECKING:` blocks excluded). It is heavy
  when that reaches an ML or numeric library (HEAVY): those stay lazy on purpose, so that the plugin
  loads none of them. It is cheap when that reaches nothing but the standard library, pytest and the
  package: it could sit at the top of its module (the plugin loads with pytest alone installed). The
  rest (other libraries: jsonschema, py-cpuinfo, filelock...) is neither.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from run_record import save_result

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results" / "code-shape.json"
PACKAGE = "pytest_qbench"
LONG_FUNCTION = 50  # lines; a function longer than this counts
LONG_LINE = 120  # characters (ruff's line length in pyproject.toml)
# What loading makes an import heavy: the ML stack, and the numeric libraries under it; what a cheap one may load.
HEAVY = frozenset({
    "torch", "transformers", "optimum", "onnxruntime", "onnx", "datasets", "openvino", "nncf", "evaluate", "numpy",
    "scipy", "sklearn", "seqeval", "matplotlib",
})
LIGHT = frozenset({*sys.stdlib_module_names, "pytest", "_pytest", "pluggy"})
DICT_STR_ANY = re.compile(r"\b[Dd]ict\[str,\s*Any\]")
MYPY_ERROR = re.compile(r"^(?P<file>[^:\n]+\.py):\d+(?::\d+)?: error: ", re.MULTILINE)


# ---- the exported tree ---------------------------------------------------------------------------


def export(commit: str, into: Path) -> None:
    """`pytest_qbench/` as it is at `commit`, written under `into`."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, PACKAGE],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def commit_info(commit: str) -> dict[str, str]:
    fields = subprocess.run(["git", "-C", str(REPO), "show", "-s", "--format=%H%n%h%n%cI%n%s", commit],
                            capture_output=True, text=True, check=True).stdout.split("\n", 3)
    return {"commit": fields[0], "short": fields[1], "date": fields[2], "subject": fields[3].strip()}


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. pytest_qbench.gate.policy
    path: str  # relative to the tree, e.g. pytest_qbench/gate/policy.py
    text: str
    tree: ast.Module

    @property
    def package(self) -> list[str]:
        """The package a relative import of this module starts from."""
        parts = self.name.split(".")
        return parts if self.path.endswith("__init__.py") else parts[:-1]


def modules(root: Path) -> dict[str, Module]:
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        relative = path.relative_to(root)
        parts = list(relative.with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        text = path.read_text()
        found[name] = Module(name, str(relative), text, ast.parse(text))
    return found


# ---- imports -------------------------------------------------------------------------------------


def targets(module: Module, node: ast.Import | ast.ImportFrom, known: dict[str, Module]) -> list[str]:
    """The modules an import statement loads (a `from package import submodule` loads the submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.package[: len(module.package) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    submodules = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in known]
    return [source, *submodules]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import under `node`, and whether a function body holds it; `if TYPE_CHECKING:` blocks skipped."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (item for orelse in child.orelse for item in _walk_one(orelse, in_function))
            continue
        yield from _walk_one(child, in_function)


def _walk_one(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, in_function
    else:
        yield from _walk(node, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))


def loaded(names: list[str]) -> set[str]:
    """What importing `names` loads: each module and the packages above it."""
    parts = [name.split(".") for name in names]
    return {".".join(part[:i]) for part in parts for i in range(1, len(part) + 1)}


def _libraries(names: set[str]) -> set[str]:
    return {name for name in names if "." not in name and name != PACKAGE}


def libraries(known: dict[str, Module]) -> dict[str, set[str]]:
    """The libraries (top-level names outside the package) each of the package's modules loads when it is
    imported, directly or through the package's own modules."""
    loads = {name: loaded([t for node, in_function in _walk(module.tree, False) if not in_function
                           for t in targets(module, node, known)])
             for name, module in known.items()}
    found = {name: _libraries(names) for name, names in loads.items()}
    changed = True
    while changed:
        changed = False
        for name, names in loads.items():
            more = set().union(*(found[t] for t in names if t in found)) - found[name]
            if more:
                found[name] |= more
                changed = True
    return found


def libraries_of(names: list[str], by_module: dict[str, set[str]]) -> set[str]:
    """The libraries an import of `names` loads."""
    every = loaded(names)
    return _libraries(every).union(*(by_module[name] for name in every if name in by_module))


def function_imports(known: dict[str, Module]) -> dict[str, Any]:
    by_module = libraries(known)
    total, project, stdlib, heavy = 0, 0, 0, 0
    cheap: list[str] = []
    for module in known.values():
        for node, in_function in _walk(module.tree, False):
            if not in_function:
                continue
            total += 1
            names = targets(module, node, known)
            top = names[0].split(".")[0]
            project += top == PACKAGE
            stdlib += top in sys.stdlib_module_names
            libs = libraries_of(names, by_module)
            heavy += bool(libs & HEAVY)
            if libs <= LIGHT:
                cheap.append(f"{module.path}:{node.lineno} {names[-1]}")  # `from . import x`: x
    return {"total": total, "project": project, "stdlib": stdlib, "heavy": heavy, "cheap": len(cheap),
            "cheap_imports": cheap}


# ---- sizes ---------------------------------------------------------------------------------------


def long_functions(known: dict[str, Module]) -> list[tuple[str, int]]:
    """Functions over LONG_FUNCTION lines, longest first: (path:qualified name, lines)."""
    found = []

    def visit(node: ast.AST, path: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    lines = (child.end_lineno or child.lineno) - child.lineno + 1
                    if lines > LONG_FUNCTION:
                        found.append((f"{path}:{name}", lines))
                visit(child, path, f"{name}.")
            else:
                visit(child, path, prefix)

    for module in known.values():
        visit(module.tree, module.path, "")
    return sorted(found, key=lambda item: (-item[1], item[0]))


def mypy_errors(root: Path) -> dict[str, Any]:
    """`mypy --strict` (this checkout's [tool.mypy]) on the exported package: error count, per file."""
    cache = REPO / ".mypy_cache" / "code-shape"  # gitignored; the libraries' part is shared between commits
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
                           "--cache-dir", str(cache), "--no-error-summary", "-p", PACKAGE],
                          cwd=root, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"mypy failed (exit {done.returncode}): {done.stderr or done.stdout}")
    by_file = Counter(match["file"] for match in MYPY_ERROR.finditer(done.stdout))
    return {"errors": sum(by_file.values()), "by_file": dict(sorted(by_file.items(), key=lambda kv: (-kv[1], kv[0])))}


def measure(commit: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qbench-code-shape-") as tmp:
        root = Path(tmp)
        export(commit, root)
        known = modules(root)
        sizes = {module.path: len(module.text.splitlines()) for module in known.values()}
        lines = [line for module in known.values() for line in module.text.splitlines()]
        return {
            **commit_info(commit),
            "modules": len(sizes),
            "lines": sum(sizes.values()),
            "module_lines": dict(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))),
            "long_functions": long_functions(known),
            "dict_str_any": sum(len(DICT_STR_ANY.findall(module.text)) for module in known.values()),
            "function_imports": function_imports(known),
            "long_lines": sum(len(line) > LONG_LINE for line in lines),
            "mypy": mypy_errors(root),
        }


def yardstick() -> dict[str, Any]:
    """What the counts depend on beyond the commit: the limits, the heavy libraries, mypy and its config."""
    version = subprocess.run([sys.executable, "-m", "mypy", "--version"], capture_output=True, text=True,
                             check=True).stdout.split("(")[0].strip()
    config = tomllib.loads((REPO / "pyproject.toml").read_text()).get("tool", {}).get("mypy", {})
    return {"long_function": LONG_FUNCTION, "long_line": LONG_LINE, "heavy": sorted(HEAVY), "mypy": version,
            "mypy_config": config, "python": sys.version.split()[0]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commits", nargs="+", help="commits to measure (any name git knows)")
    args = parser.parse_args(argv)
    result = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"commits": []}
    entries = {entry["commit"]: entry for entry in result["commits"]}
    ruler = yardstick()
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for commit in args.commits:
        entry = {**measure(commit), "measured": when, "yardstick": ruler}
        entries[entry["commit"]] = entry
        print(f"{entry['short']}: {entry['modules']} modules, {entry['lines']} lines,"
              f" {len(entry['long_functions'])} functions over {LONG_FUNCTION} lines,"
              f" {entry['dict_str_any']} dict[str, Any], {entry['function_imports']['total']} imports in functions"
              f" ({entry['function_imports']['cheap']} cheap), {entry['long_lines']} lines over {LONG_LINE},"
              f" {entry['mypy']['errors']} mypy --strict errors")
    ordered = sorted(entries.values(), key=lambda entry: entry["date"])
    save_result(RESULTS, {"commits": ordered})


if __name__ == "__main__":
    main()
