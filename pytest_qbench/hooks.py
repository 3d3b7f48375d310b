"""Hooks users implement in their conftest.py to override qbench policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .hardware import Hardware
    from .results import CaseResult, Check


@pytest.hookspec(firstresult=True)
def pytest_qbench_hardware(config: pytest.Config) -> Hardware | None:
    """Return the machine to run as (default: detected with py-cpuinfo), e.g. where py-cpuinfo
    misreads a container's CPU: `hardware_from_cpuinfo({...})` builds one. It picks the quantization
    preset, the hardware key and the saturation advice."""


@pytest.hookspec(firstresult=True)
def pytest_qbench_hardware_key(config: pytest.Config, hardware: Hardware) -> str | None:
    """Return the key that baselines are stored and matched under (default: `hardware.key`).

    E.g. return "ci-runner" to share one set of baselines across a pool of alike machines."""


def pytest_qbench_checks(config: pytest.Config, result: CaseResult, checks: list[Check]) -> None:
    """Inspect or modify a case's checks in place before its verdict is derived from them, e.g. turn
    an "inconclusive" cpu.speedup check into "fail" for a gate that must decide every run."""


def pytest_qbench_update_json(config: pytest.Config, artifact: dict[str, Any]) -> None:
    """Add to or change the JSON artifact before it is validated and written."""
