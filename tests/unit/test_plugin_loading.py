"""The plugin without a pytest run of its own: what importing it loads, the end-to-end marker, the
run's exit status."""

import json
import subprocess
import sys

import pytest

HEAVY = ["torch", "onnxruntime", "optimum", "transformers", "datasets", "onnx", "numpy", "scipy", "matplotlib"]


def _loaded_after(code: str) -> dict[str, list[str]]:
    """The heavy libraries and the pytest_qbench modules loaded in a fresh interpreter after `code`."""
    report = (
        "import json, sys;"
        f"print(json.dumps({{'heavy': sorted(m for m in {HEAVY!r} if m in sys.modules),"
        " 'qbench': sorted(m for m in sys.modules if m.startswith('pytest_qbench'))}))"
    )
    out = subprocess.run([sys.executable, "-c", f"{code}\n{report}"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_importing_the_plugin_imports_nothing_heavy():
    assert _loaded_after("import pytest_qbench.plugin, pytest_qbench.session, pytest_qbench.runner")["heavy"] == []


def test_importing_the_package_imports_only_itself_and_each_public_name_nothing_heavy():
    """`import pytest_qbench` (pytest loads the plugin in every run) loads no module but the package;
    each public name loads its own module, and none of them an ML library."""
    assert _loaded_after("import pytest_qbench") == {"heavy": [], "qbench": ["pytest_qbench"]}
    import pytest_qbench

    modules = {pytest_qbench._PUBLIC[name]: name for name in pytest_qbench.__all__ if name != "__version__"}
    for module, name in modules.items():  # one name per module: a name loads its whole module
        loaded = _loaded_after(f"import pytest_qbench; pytest_qbench.{name}")
        assert loaded["heavy"] == [], (module, loaded)
        assert module in loaded["qbench"]


def test_a_unit_test_is_in_the_fast_subset(request: pytest.FixtureRequest):
    assert request.node.get_closest_marker("e2e") is None


def test_the_run_s_exit_status_after_its_checks_and_writes():
    from pytest_qbench.gate.rules import RunOutcome
    from pytest_qbench.results import Check, Status

    ok, failed, interrupted = pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED
    slower = Check("cpu_ms.common", "baseline", Status.FAIL, 1.2, 1.0, "rtol 0.1", "every model slower alike")
    passed, run_check_failed = RunOutcome([]), RunOutcome([], [slower])
    clean = dict(unwritten=False, interrupted=False)
    assert passed.exit_status(ok, **clean) == ok
    assert run_check_failed.exit_status(pytest.ExitCode.USAGE_ERROR, **clean) == pytest.ExitCode.USAGE_ERROR
    assert run_check_failed.exit_status(ok, **{**clean, "interrupted": True}) == failed  # as --cov-fail-under
    assert passed.exit_status(ok, unwritten=True, interrupted=True) == interrupted
    assert passed.exit_status(ok, **{**clean, "unwritten": True}) == failed
