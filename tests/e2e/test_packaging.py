"""The package as a user gets it, end to end: the sdist and the wheel built from the tracked files
(`python -m build`, in its isolated environment, so pyproject's build requirements are tested too), checked
by `twine check --strict`, and the wheel installed alone with pytest into an empty venv, where the plugin
loads through its entry point without any ML library installed.

One test, not several sharing a fixture: under `pytest -n 2` each worker would build again. It needs
PyPI (setuptools for the build, pytest for the venv) and takes about 10 s."""

from __future__ import annotations

import configparser
import email.parser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Without the developer's PYTHONPATH (which would import the checkout, not the wheel) or pytest settings.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("PYTEST_")}

# Run in the venv: the plugin autoloads from the wheel, its marker is read and its cases skip without --qbench.
USER_TEST = """
import importlib.util
import sys
from importlib import metadata

import pytest
import pytest_qbench


def test_the_plugin_is_the_wheels_and_loaded_without_ml_libraries(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("qbench")
    assert pytest_qbench.__file__.startswith(sys.prefix)
    assert pytest_qbench.__version__ == metadata.version("pytest-qbench")
    heavy = ["numpy", "scipy", "onnx", "onnxruntime", "torch", "transformers", "optimum", "datasets"]
    assert [name for name in heavy if importlib.util.find_spec(name)] == []


@pytest.mark.qbench(model="m", dataset="d", approach=["dynamic", "static"])
def test_case(qbench):
    pass
"""


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _copy_tracked_files(destination: Path) -> None:
    """The tracked files as they are in the working tree: no untracked files, .venv or build leftovers."""
    for name in _run("git", "-C", ROOT, "ls-files", "-z").split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def _build(source: Path, outdir: Path) -> tuple[Path, Path]:
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", outdir, source)
    (sdist,) = outdir.glob("*.tar.gz")
    (wheel,) = outdir.glob("*.whl")
    return sdist, wheel


def _assert_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points = configparser.ConfigParser()
        entry_points.read_string(archive.read(f"{dist_info}/entry_points.txt").decode())
    schemas = {f"pytest_qbench/schema/{path.name}" for path in (ROOT / "pytest_qbench" / "schema").glob("*.json")}
    assert schemas and schemas <= set(names)
    assert "pytest_qbench/py.typed" in names  # PEP 561: type checkers read the package's hints
    assert f"{dist_info}/licenses/LICENSE" in names
    assert (metadata["License-Expression"], metadata["License-File"]) == ("Apache-2.0", "LICENSE")
    assert dict(entry_points["pytest11"]) == {"qbench": "pytest_qbench.plugin"}


def _venv_with(wheel: Path, venv: Path) -> Path:
    """An empty venv (no pip, no system site-packages) with pytest and the wheel, without the wheel's
    dependencies. The running pip installs into it (`pip --python`): no ensurepip, which takes seconds."""
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--disable-pip-version-check"]
    _run(*pip, "-c", ROOT / "constraints.txt", "pytest")
    _run(*pip, "--no-deps", wheel)
    return python


def test_the_built_sdist_and_wheel_pass_twine_and_the_wheel_alone_loads_the_plugin(tmp_path: Path):
    _copy_tracked_files(tmp_path / "src")
    sdist, wheel = _build(tmp_path / "src", tmp_path / "dist")
    _run(sys.executable, "-m", "twine", "check", "--strict", sdist, wheel)
    _assert_wheel_contents(wheel)

    python = _venv_with(wheel, tmp_path / "venv")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_user.py").write_text(USER_TEST)
    assert "--qbench " in _run(python, "-m", "pytest", "--help", cwd=project)
    assert "1 passed, 2 skipped" in _run(python, "-m", "pytest", "-p", "no:cacheprovider", cwd=project)
