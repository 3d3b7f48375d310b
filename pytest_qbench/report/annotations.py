"""GitHub Actions annotations: `::error` per failed check, `::warning` per inconclusive check and skip reason."""

from __future__ import annotations

from ..results import CaseResult, Status
from .content import skips_by_reason, with_cases


def github_annotations(results: list[CaseResult]) -> list[str]:
    """`::error` per failed check or failed measurement, one `::warning` per distinct skip reason."""
    lines = []
    for r in (r for r in results if not r.expected_failure):
        file = r.nodeid.split("::", 1)[0]
        if r.error is not None:
            lines.append(_annotation("error", f"qbench {r.case_id}: could not measure", r.error, file))
        for c in r.checks:
            if c.status.failing:
                lines.append(_annotation("error", f"qbench {r.case_id}: {c.metric} vs {c.against}", c.reason, file))
            elif c.status is Status.INCONCLUSIVE:
                lines.append(_annotation("warning", f"qbench {r.case_id}: {c.metric} inconclusive", c.reason, file))
    for reason, case_ids in skips_by_reason(results).items():
        lines.append(_annotation("warning", "qbench: check skipped", with_cases(reason, case_ids)))
    return lines


def _annotation(kind: str, title: str, message: str, file: str | None = None) -> str:
    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    props = ([f"file={prop(file)}"] if file else []) + [f"title={prop(title)}"]
    return f"::{kind} {','.join(props)}::{data(message)}"
