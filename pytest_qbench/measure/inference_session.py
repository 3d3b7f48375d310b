"""`InferenceSession`: a session of either runtime, as qbench calls it (docs/layout.md: an `ort_session` is
onnxruntime's, an `ov_session` OpenVINO's, an `inference_session` either)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class SessionInput(Protocol):
    @property
    def name(self) -> str: ...


class InferenceSession(Protocol):
    """An onnxruntime.InferenceSession or a measure/ov_session.py OvSession."""

    def get_inputs(self) -> Sequence[SessionInput]: ...

    def run(self, output_names: None, feed: Mapping[str, Any]) -> list[Any]: ...
