"""What a run records of where it ran: the machine (hardware.py), the libraries that decide its
numbers, pytest-qbench's version, the project's commit and the time: a results.Environment, the JSON
artifact's "environment" object (report/artifact.py); the reports and the merge read it back.
"""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from .hardware import Fingerprint, Hardware
from .results import Environment


def run_environment(hardware: Hardware, hardware_key: str, fingerprint: Fingerprint, *, threads: int | None,
                    root: Path) -> Environment:
    """The environment of a run on `hardware` filed under `hardware_key`, with `threads` for its
    wall-clock phase (None: the physical cores), in the project at `root`, created now."""
    return Environment(
        brand=hardware.brand,
        arch=hardware.arch,
        flags=tuple(hardware.flags),
        int8_flags=tuple(hardware.int8_flags),
        hardware_key=hardware_key,
        tier=hardware.tier,
        saturates_u8s8=hardware.saturates_u8s8,
        preset=hardware.preset,
        qbench_version=qbench_version(),
        physical_cores=hardware.physical_cores,
        logical_cores=hardware.logical_cores,
        threads=threads or hardware.physical_cores,
        cpu_model=fingerprint.cpu_model,
        fingerprint=fingerprint.to_dict(),
        python=platform.python_version(),
        libraries=libraries(),
        git_commit=git_commit(root),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )


def libraries() -> dict[str, str]:
    """The versions of the libraries that build and run the models; OpenVINO's only where the extra is installed."""
    from .variants.cache import LIBRARIES, library_versions
    from .variants.openvino import OPENVINO_LIBRARIES

    return {**library_versions(LIBRARIES),
            **{k: v for k, v in library_versions(OPENVINO_LIBRARIES).items() if v != "not installed"}}


def qbench_version() -> str:
    try:
        return metadata.version("pytest-qbench")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit(root: Path) -> str | None:
    """The commit checked out at `root`, or None outside a git work tree."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
