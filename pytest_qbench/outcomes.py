"""The gate's own test outcomes: a failed check fails the test as pytest's `Failed` does (no traceback,
not an error of the tool), so `@pytest.mark.xfail(raises=QbenchCheckFailed)` expects a failed check,
never a crash. A case that could not be measured fails with pytest's plain `Failed` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # pytest's public name for it is `pytest.fail.Exception`, which a type checker cannot subclass
    from _pytest.outcomes import Failed
else:
    Failed = pytest.fail.Exception


class QbenchCheckFailed(Failed):
    """`qbench.check()` found a failed check (accuracy, latency, baseline)."""


class QbenchAccuracyLost(QbenchCheckFailed):
    """A failed check of the optimized model's accuracy, against the original or the baseline (other
    checks may have failed too): what `xfail(raises=QbenchAccuracyLost)` expects of a known collapse."""
