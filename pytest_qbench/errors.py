"""Every exception and warning pytest-qbench raises, in one place (all re-exported by `pytest_qbench`).

Each message names the value at fault and the fix. Errors are grouped by the stage that raises them;
a user's conftest or CI script catches them, or turns a warning into an error with
`-W error::pytest_qbench.QbenchInconclusiveWarning`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .results import FlushReport

# ---- configuration and input ---------------------------------------------------------------------


class QbenchConfigError(ValueError):
    """A marker or option value that cannot work; the message names the value and the fix."""


class QbenchDataError(ValueError):
    """Data that cannot be used as asked; the message names the problem and the fix."""


class QbenchModelError(ValueError):
    """The model argument cannot be turned into an ONNX original; the message says why."""


# ---- building and measuring ----------------------------------------------------------------------


class QbenchBuildError(RuntimeError):
    """A step of building a variant failed; the message names the variant and the step."""


class QbenchCaseError(Exception):
    """A case that could not be measured: bad input, a failed build, a model that returns NaN."""


class QbenchCheckFailed(pytest.fail.Exception):
    """`qbench.check()` found a failed check (accuracy, latency, baseline): the gate's own failure.

    A case that could not be measured fails with pytest's plain `Failed` instead, so
    `@pytest.mark.xfail(raises=QbenchCheckFailed)` expects a failed check, never a crash."""


class QbenchAccuracyLost(QbenchCheckFailed):
    """A failed check of the optimized model's accuracy, against the original or the baseline (other
    checks may have failed too): what `xfail(raises=QbenchAccuracyLost)` expects of a known collapse."""


# ---- baselines and artifacts ---------------------------------------------------------------------


class QbenchBaselineError(RuntimeError):
    """A baseline file that cannot be read or merged; the message names the file and the fix."""


class QbenchFlushError(QbenchBaselineError):
    """Some baseline files could not be written; `report` tells what the others got."""

    def __init__(self, message: str, report: "FlushReport") -> None:
        super().__init__(message)
        self.report = report


class QbenchArtifactError(ValueError):
    """An artifact that does not match the schema, or cannot be read; nothing was written."""


class QbenchMergeError(ValueError):
    """Artifacts that cannot be merged; the message names the files and the fix."""


# ---- the run --------------------------------------------------------------------------------------


class QbenchTerminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, `timeout`, `kill`), raised like Ctrl-C so that the run stops the
    same way: temporary files removed, no baseline written, the artifact of what ran still written."""


# ---- warnings -------------------------------------------------------------------------------------


class QbenchInconclusiveWarning(UserWarning):
    """A latency check that could not tell no change from a regression: not failed, not silent.
    `-W error::pytest_qbench.QbenchInconclusiveWarning` makes it fail the test."""


class QbenchModelWarning(UserWarning):
    """The model builds, but its results may not mean what the user expects."""


class QbenchCacheWarning(UserWarning):
    """A cache entry was unusable and got rebuilt."""


def error_text(error: object) -> str:
    """An error's message without the "qbench: " it starts with, for a line that names qbench already."""
    return str(error).removeprefix("qbench: ")
