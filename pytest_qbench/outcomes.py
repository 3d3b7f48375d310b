"""The gate's own test outcomes: a failed check fails the test as pytest's `Failed` does (no traceback,
not an error of the tool), so `@pytest.mark.xfail(raises=QbenchCheckFailed)` expects a failed check,
never a crash. A case that could not be measured fails with pytest's plain `Failed` instead. What the
run's own checks and its end-of-run writes make of pytest's exit status: `run_exit_status`.
"""

from __future__ import annotations

import pytest


class QbenchCheckFailed(pytest.fail.Exception):
    """`qbench.check()` found a failed check (accuracy, latency, baseline)."""


class QbenchAccuracyLost(QbenchCheckFailed):
    """A failed check of the optimized model's accuracy, against the original or the baseline (other
    checks may have failed too): what `xfail(raises=QbenchAccuracyLost)` expects of a known collapse."""


def run_exit_status(status: int, *, failed_check: bool, unwritten: bool, interrupted: bool) -> int:
    """What a run's exit status becomes once qbench's run checks and end-of-run writes are done: pytest's
    own `status` when it is not OK; else 1 (tests failed) when a run check failed, as pytest-cov's
    --cov-fail-under does after the tests passed; else 2 (interrupted) when an interrupt came during
    the writes, or 1 when a baseline or the artifact went `unwritten`."""
    if status != pytest.ExitCode.OK:
        return status
    if failed_check:
        return pytest.ExitCode.TESTS_FAILED
    if interrupted:
        return pytest.ExitCode.INTERRUPTED
    return pytest.ExitCode.TESTS_FAILED if unwritten else status
