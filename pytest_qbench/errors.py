"""Every exception and warning pytest-qbench raises, in one place (all re-exported by `pytest_qbench`).

Each message names the value at fault and the fix. Errors are grouped by the stage that raises them;
every one is a `QbenchError` (`except QbenchError` catches them all) and, where it is about a value,
also a ValueError. A failed check is no error but a test outcome (outcomes.py). A user's conftest or CI
script catches them, or turns a warning into an error with
`-W error::pytest_qbench.QbenchInconclusiveWarning` (every warning is a `QbenchWarning`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .results import FlushReport


class QbenchError(Exception):
    """The base of every pytest-qbench error."""


# ---- configuration and input ---------------------------------------------------------------------


class QbenchConfigError(QbenchError, ValueError):
    """A marker or option value that cannot work; the message names the value and the fix."""


class QbenchDataError(QbenchError, ValueError):
    """Data that cannot be used as asked; the message names the problem and the fix."""


class QbenchModelError(QbenchError, ValueError):
    """The model argument cannot be turned into an ONNX original; the message says why."""


# ---- building and measuring ----------------------------------------------------------------------


class QbenchBuildError(QbenchError, RuntimeError):
    """A step of building a variant failed; the message names the variant and the step."""


class QbenchCaseError(QbenchError):
    """A case that could not be measured: bad input, a failed build, a model that returns NaN."""


# ---- baselines and artifacts ---------------------------------------------------------------------


class QbenchBaselineError(QbenchError, RuntimeError):
    """A baseline file that cannot be read or merged; the message names the file and the fix."""


class QbenchFlushError(QbenchBaselineError):
    """Some baseline files could not be written; `report` tells what the others got."""

    def __init__(self, message: str, report: FlushReport) -> None:
        super().__init__(message)
        self.report = report


class QbenchArtifactError(QbenchError, ValueError):
    """An artifact that does not match the schema, or cannot be read; nothing was written."""


class QbenchMergeError(QbenchError, ValueError):
    """Artifacts that cannot be merged; the message names the files and the fix."""


# ---- the run --------------------------------------------------------------------------------------


class QbenchTerminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, `timeout`, `kill`), raised like Ctrl-C so that the run stops the
    same way: temporary files removed, no baseline written, the artifact of what ran still written."""


# ---- warnings -------------------------------------------------------------------------------------


class QbenchWarning(UserWarning):
    """The base of every pytest-qbench warning."""


class QbenchInconclusiveWarning(QbenchWarning):
    """A latency check that could not tell no change from a regression: not failed, not silent.
    `-W error::pytest_qbench.QbenchInconclusiveWarning` makes it fail the test."""


class QbenchModelWarning(QbenchWarning):
    """The model builds, but its results may not mean what the user expects."""


class QbenchCacheWarning(QbenchWarning):
    """A cache entry was unusable and got rebuilt."""


def error_text(error: object) -> str:
    """An error's message without the "qbench: " it starts with, for a line that names qbench already."""
    return str(error).removeprefix("qbench: ")
