"""The gated CPU phase again, in a fresh Python process: an in-run confirmation (issue 31).

A session's speed can belong to the session: in full gate runs about 1 case-run in 70 had an int8
session 8-11% slow for its whole life while its fp32 original ran as always (docs/BENCHMARKS.md,
"One slow session"). The ABBA interleaving cancels what varies in time, not what one session or one
process carries (its heap and code layout: Mytkowicz et al. 2009, Curtsinger & Berger 2013; pyperf
pools 20 worker processes for this reason). A case whose speedup check does not pass at first look
is therefore measured again here, each time in a new process with new sessions of both models, and
the gate judges the best of these measurements (gate/latency_stats.speedup_in_run; the first look only
chose the case): a slow session only ever slows, so the case fails only when every fresh process fails;
a real slowdown slows them all.

The child imports only onnxruntime (or openvino), numpy and this package's timing code, reads the
models, their session settings and the exact inputs of the first measurement, and writes one
`CpuTime` as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import QbenchCaseError
from ..results import CpuTime, Speedup
from ..specs import TimingSpec
from .inference_session import InferenceSession
from .ort_session import make_ort_session
from .ov_session import make_ov_session

_JOB, _INPUTS, _OUT = "job.json", "inputs.npz", "cpu.json"


@dataclass(frozen=True)
class FreshModel:
    """One model as the child opens it: an ONNX file with its ONNX Runtime config entries, or an
    OpenVINO IR file with its extra compile properties."""

    path: str
    settings: Mapping[str, Any] = field(default_factory=dict)


def measure_in_fresh_process(original: FreshModel, optimized: FreshModel, inputs: Mapping[str, Any],
                             timing: TimingSpec, timeout: float = 600.0) -> CpuTime:
    """The CPU phase of measure/latency.py on new one-thread sessions of both models, in a new process."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="qbench-fresh-") as tmp:
        folder = Path(tmp)
        np.savez(folder / _INPUTS, **inputs)
        job = {"original": asdict(original), "optimized": asdict(optimized), "timing": asdict(timing)}
        (folder / _JOB).write_text(json.dumps(job))
        done = subprocess.run([sys.executable, "-m", __name__, str(folder)], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-3:]
            raise QbenchCaseError(
                f"the confirmation in a fresh process failed (exit {done.returncode}): {' | '.join(tail)}"
            )
        data = json.loads((folder / _OUT).read_text())
    return CpuTime(data["original_ms"], data["optimized_ms"], Speedup(**data["speedup"]))


def open_session(path: str | Path, threads: int, settings: Mapping[str, Any]) -> InferenceSession:
    """A new session of `path` at `threads`: OpenVINO's for an IR file (.xml, `settings` its compile
    properties), else ONNX Runtime's (`settings` its config entries)."""
    if str(path).endswith(".xml"):
        return make_ov_session(path, threads, settings)
    ort_session: InferenceSession = make_ort_session(path, threads, settings)  # onnxruntime has no hints
    return ort_session


def _child(folder: Path) -> None:
    import numpy as np

    from .latency import Pair, cpu_phase, runner

    job = json.loads((folder / _JOB).read_text())
    with np.load(folder / _INPUTS) as stored:
        inputs = {name: stored[name] for name in stored.files}
    sessions = [open_session(job[name]["path"], 1, job[name]["settings"]) for name in ("original", "optimized")]
    samples = cpu_phase(Pair(*(runner(s, inputs) for s in sessions)), TimingSpec(**job["timing"]))
    cpu = {"original_ms": float(np.median(samples.original)) * 1e-6,
           "optimized_ms": float(np.median(samples.optimized)) * 1e-6, "speedup": asdict(samples.speedup)}
    (folder / _OUT).write_text(json.dumps(cpu))


if __name__ == "__main__":
    _child(Path(sys.argv[1]))
