"""The plugin's surface, through pytester: options, skipping, ids, marker errors."""

import pytest

MATRIX_TEST = """
import pytest

@pytest.mark.qbench(model="m", dataset="d", approach=["dynamic", "static"],
                    operators=[["Add", "MatMul"], ["Add"]], batch_size=[1, 4, 8], sequence_length=[32, 64, 128])
def test_matrix(qbench):
    qbench.check()
"""


def test_help_lists_the_options(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--qbench *", "*--qbench-update-baselines*", "*qbench_baselines*"])
    result.stdout.fnmatch_lines(["*--qbench-wall-seconds*", "*qbench_min_pairs*", "*qbench_cpu_time_rtol*"])
    assert "min_iterations" not in result.stdout.str()


def test_marker_is_registered(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.qbench(*"])


def test_without_flag_cases_are_skipped_with_reason(pytester):
    pytester.makepyfile(MATRIX_TEST)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=36)
    result.stdout.fnmatch_lines(["*qbench gate is off: pass --qbench to run it*"])


def test_ids_read_approach_operators_batch_length(pytester):
    pytester.makepyfile(MATRIX_TEST)
    result = pytester.runpytest("--qbench", "--collect-only", "-q")
    ids = [line.split("[", 1)[1].rstrip("]") for line in result.outlines if "::test_matrix[" in line]
    assert len(ids) == 36
    assert ids[0] == "dynamic-Add+MatMul-bs1-len32"
    assert "static-Add-bs8-len128" in ids
    assert len(set(ids)) == 36


def test_non_qbench_tests_are_untouched(pytester):
    pytester.makepyfile("def test_plain(): pass")
    pytester.runpytest("--qbench").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("approach=['dynamik']", "*unknown approach 'dynamik'; allowed: 'dynamic', 'static'*"),
        ("operators=[['Add', 'MatMull']]", "*unknown operator 'MatMull'; allowed:*'MatMul'*"),
        ("exclude=['softmaxx']", "*unknown exclusion family 'softmaxx'; allowed: 'layernorm'*"),
        (
            "calibration_method='histogram'",
            "*unknown calibration method 'histogram'; allowed: 'minmax', 'entropy', 'percentile'*",
        ),
        ("batch_size=[0]", "*batch_size must be a positive integer, got 0*"),
        ("sequence_length=[-32]", "*sequence_length must be a positive integer, got -32*"),
        ("sequence_length=[32.5]", "*sequence_length must be a positive integer, got 32.5*"),
        ("batch_size=[1, 1]", "*batch_size lists 1 twice*"),
        ("operators=[[]]", "*operators must be non-empty lists*"),
        ("optimization_level=3", "*unknown optimization_level 3; allowed: 0, 1, 2, 99*"),
        ("bacth_size=[1]", "*unknown marker argument(s) bacth_size; allowed:*batch_size*"),
        ("per_channel='yes'", "*per_channel must be of type bool, got 'yes'*"),
    ],
)
def test_bad_marker_is_a_collection_error_naming_value_and_allowed(pytester, marker, expected):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.qbench(model="m", dataset="d", {marker})
        def test_bad(qbench):
            pass
        """
    )
    result = pytester.runpytest("--qbench")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([expected])
    assert "Traceback" not in result.stdout.str()


def test_marker_without_fixture_is_an_error(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.qbench(model="m", dataset="d")
        def test_forgot():
            pass
        """
    )
    result = pytester.runpytest("--qbench")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*has the qbench marker but uses no `qbench` fixture*"])


def test_update_without_qbench_is_a_usage_error(pytester):
    result = pytester.runpytest("--qbench-update-baselines")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--qbench-update-baselines needs --qbench*"])


@pytest.mark.parametrize(
    ("ini", "expected"),
    [
        ("qbench_min_seconds = fast", "*ini key qbench_min_seconds = 'fast' is not a valid float*"),
        ("qbench_threads = 0", "*ini key qbench_threads = '0' must be positive*"),
        ("qbench_min_seconds = 5\nqbench_max_seconds = 1", "*max_seconds (1.0) is below min_seconds (5.0)*"),
        (
            "qbench_saturation_remedy = vnni",
            "*qbench_saturation_remedy = 'vnni' is unknown; allowed: none, reduce_range, u8u8, x64quantprecision*",
        ),
        ("qbench_min_pairs = 0", "*ini key qbench_min_pairs = '0' must be positive*"),
        ("qbench_min_pairs = many", "*ini key qbench_min_pairs = 'many' is not a valid int*"),
        ("qbench_wall_seconds = -1", "*ini key qbench_wall_seconds = '-1' must be positive*"),
        ("qbench_cpu_time_rtol = loose", "*ini key qbench_cpu_time_rtol = 'loose' is not a valid*"),
        ("qbench_cpu_time_rtol = 0", "*ini key qbench_cpu_time_rtol = '0' must be positive*"),
        ("qbench_latency_rtol = -0.5", "*ini key qbench_latency_rtol = '-0.5' must be positive*"),
    ],
)
def test_bad_ini_values_are_usage_errors(pytester, ini, expected):
    pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest("--qbench")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_ini_defaults_reach_the_cases(pytester):
    pytester.makeini("[pytest]\nqbench_min_seconds = 0.5\nqbench_max_seconds = 2\nqbench_max_loss = 0.02\n"
                     "qbench_saturation_remedy = x64quantprecision\nqbench_min_pairs = 30\nqbench_wall_seconds = 0.7\n"
                     "qbench_cpu_time_rtol = 0.4\nqbench_latency_rtol = 0.5\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.qbench(model="m", dataset="d", max_seconds=3.0, min_pairs=12)
        def test_case(qbench_case):
            assert qbench_case.timing.min_seconds == 0.5
            assert qbench_case.timing.max_seconds == 3.0  # the marker wins over ini
            assert qbench_case.timing.min_pairs == 12
            assert qbench_case.timing.wall_seconds == 0.7
            assert qbench_case.tolerances.max_loss == 0.02
            assert qbench_case.tolerances.cpu_time_rtol == 0.4
            assert qbench_case.tolerances.latency_rtol == 0.5
            assert qbench_case.variant.saturation_remedy == "x64quantprecision"

        @pytest.mark.qbench(model="m", dataset="d")
        def test_ini_only(qbench_case):
            assert qbench_case.timing.min_pairs == 30
        """
    )
    pytester.runpytest("--qbench").assert_outcomes(passed=4)  # two cases each: dynamic, static


def test_the_wall_seconds_flag_wins_over_ini_and_off_turns_a_latency_check_off(pytester):
    pytester.makeini("[pytest]\nqbench_wall_seconds = 0.7\nqbench_cpu_time_rtol = off\nqbench_latency_rtol = OFF\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.qbench(model="m", dataset="d")
        def test_case(qbench_case):
            assert qbench_case.timing.wall_seconds == 0.25
            assert qbench_case.tolerances.cpu_time_rtol is None
            assert qbench_case.tolerances.latency_rtol is None
        """
    )
    pytester.runpytest("--qbench", "--qbench-wall-seconds", "0.25").assert_outcomes(passed=2)


def test_the_cpu_time_tolerance_is_gated_by_default_and_wall_clock_is_not(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.qbench(model="m", dataset="d")
        def test_case(qbench_case):
            assert qbench_case.tolerances.cpu_time_rtol == 0.35
            assert qbench_case.tolerances.latency_rtol is None
            assert qbench_case.timing.min_pairs == 10
        """
    )
    pytester.runpytest("--qbench").assert_outcomes(passed=2)


def test_a_plain_pytest_run_imports_nothing_heavy(pytester):
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish(session):
            heavy = [m for m in ("torch", "onnxruntime", "optimum", "transformers", "datasets") if m in sys.modules]
            print("HEAVY:", heavy)
        """
    )
    pytester.makepyfile(MATRIX_TEST)
    result = pytester.runpytest_subprocess("-s", "--qbench", "--collect-only")
    result.stdout.fnmatch_lines(["HEAVY: []"])


def test_a_test_that_runs_pytest_itself_is_end_to_end(pytester: pytest.Pytester, request: pytest.FixtureRequest):
    assert request.node.get_closest_marker("e2e") is not None  # tests/conftest.py, by its folder


def test_the_speed_lines_are_an_ini_key_off_by_default(pytester):
    from pytest_qbench.options import read_options

    assert read_options(pytester.parseconfig("--qbench")).speed_lines is False
    pytester.makeini("[pytest]\nqbench_speed_lines = true\n")
    assert read_options(pytester.parseconfig("--qbench")).speed_lines is True
