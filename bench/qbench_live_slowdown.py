"""A pytest plugin of bench/live_gate.py: one case of a real gate run timed on a slowed int8 model.

    PYTHONPATH=bench:. QBENCH_LIVE_TARGET='test_x[dynamic-Add+MatMul-bs1-len32]' QBENCH_LIVE_SLOWED=slowed.onnx \\
        .venv/bin/python -m pytest --qbench examples -p qbench_live_slowdown

For the test named by $QBENCH_LIVE_TARGET only (the item's name, parameters included), the `optimized`
model of the case's measurer (`pytest_qbench.CasePipeline.measurer`, a measure/case.py `CaseMeasurer`)
becomes $QBENCH_LIVE_SLOWED: the in-process timing and the in-run confirmation in fresh processes
(measure/fresh.py) both read that attribute, so both time the slowed model. Its scores do not change (the
slowed graph only adds an output after the logits).
With $QBENCH_LIVE_RECORD (a folder), the plugin writes there what the slowdown is calibrated on: the
target's model paths, session settings and hidden size (target.json) and its exact timing inputs
(inputs.npz). Without $QBENCH_LIVE_TARGET it does nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

TARGET_ENV, SLOWED_ENV, RECORD_ENV = "QBENCH_LIVE_TARGET", "QBENCH_LIVE_SLOWED", "QBENCH_LIVE_RECORD"

_running: list[str] = []  # the name of the item being run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _running[:] = [item.name]
    yield
    _running.clear()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(TARGET_ENV):
        patch_measurer()


def patch_measurer() -> None:
    """Wrap `CasePipeline.measurer` (made once per case) so that the target's measurer is recorded and
    slowed as asked."""
    import pytest_qbench

    steps = pytest_qbench.CasePipeline
    make = steps.measurer.func

    def measurer(self: Any) -> Any:
        made = make(self)
        if _running == [os.environ[TARGET_ENV]]:
            if os.environ.get(RECORD_ENV):
                record(made, Path(os.environ[RECORD_ENV]))
            if os.environ.get(SLOWED_ENV):
                made.optimized = Path(os.environ[SLOWED_ENV])
        return made

    wrapped = cached_property(measurer)
    wrapped.__set_name__(steps, "measurer")
    steps.measurer = wrapped


def record(measurer: Any, folder: Path) -> None:
    """What the slowdown of the target is calibrated on, from its unslowed measurer."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "inputs.npz", **measurer.inputs(measurer.case.batch_size))
    (folder / "target.json").write_text(json.dumps({
        "case": measurer.case.id, "original": str(measurer.original), "optimized": str(measurer.optimized),
        "config_entries": dict(measurer.config_entries(measurer.optimized)),
        "hidden_size": measurer.shared.model_config(measurer.model_dir).hidden_size,
    }))
