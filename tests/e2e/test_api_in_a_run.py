"""The declared public API in a pytest run: its warning under -W error, its failures as xfail reasons."""

from __future__ import annotations

import pytest

WARNS = """
import warnings

from pytest_qbench import QbenchInconclusiveWarning

def test_inconclusive():
    warnings.warn(QbenchInconclusiveWarning("qbench case: [inconclusive] cpu.speedup vs baseline"))
"""


def test_an_inconclusive_check_fails_the_test_under_w_error(pytester: pytest.Pytester):
    pytester.makepyfile(WARNS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, warnings=1)
    pytester.runpytest(
        "-p", "no:cacheprovider", "-W", "error::pytest_qbench.QbenchInconclusiveWarning"
    ).assert_outcomes(failed=1)


XFAIL = """
import pytest

from pytest_qbench import QbenchAccuracyLost, QbenchCheckFailed

COLLAPSE = pytest.mark.xfail(strict=True, raises=QbenchAccuracyLost, reason="a known collapse")

@COLLAPSE
def test_accuracy_lost():
    raise QbenchAccuracyLost("qbench case:\\n[fail] f1 vs original: lost 0.8", pytrace=False)

@COLLAPSE
def test_latency_failed():
    raise QbenchCheckFailed("qbench case:\\n[fail] cpu.speedup vs baseline: slower", pytrace=False)

@COLLAPSE
def test_crashed():
    pytest.fail("qbench case: could not measure: QbenchBuildError: ...", pytrace=False)
"""


def test_an_expected_collapse_is_a_lost_accuracy_not_another_failure(pytester: pytest.Pytester):
    """examples/test_reference_card.py's collapse: only the gate's failed accuracy check is the expected
    failure; a failed latency check or a case that could not be measured fails the test."""
    pytester.makepyfile(XFAIL)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rfx")
    result.assert_outcomes(xfailed=1, failed=2)
    for line in ("XFAIL*test_accuracy_lost*", "FAILED*test_latency_failed*", "FAILED*test_crashed*"):
        result.stdout.fnmatch_lines([line])
