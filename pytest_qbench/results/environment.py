"""Where a run ran: the machine, the libraries that decide its numbers, pytest-qbench's version, the
project's commit and the time (environment.py makes it). The JSON artifact's "environment" object, and
each hardware key's in a merge's "merge.environments"; the reports and the merge read it back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from .open_record import open_record_json

# Recorded by every artifact (the schema requires them) | by this version's, absent from older ones.
_REQUIRED = ("brand", "flags", "hardware_key", "tier", "saturates_u8s8", "physical_cores", "logical_cores", "python",
             "libraries", "git_commit", "created")


@dataclass(frozen=True)
class Environment:
    brand: str
    flags: tuple[str, ...]
    hardware_key: str
    tier: str  # the int8 kernel class (hardware.py)
    saturates_u8s8: bool  # x86 without VNNI: u8s8 int8 sums can saturate
    physical_cores: int
    logical_cores: int
    python: str
    libraries: Mapping[str, str | None]  # name -> version
    git_commit: str | None  # None outside a git work tree
    created: str  # ISO 8601, UTC
    # None: not recorded (an older pytest-qbench's artifact).
    arch: str | None = None
    int8_flags: tuple[str, ...] | None = None
    preset: str | None = None  # optimum's quantization preset for the instruction set
    qbench_version: str | None = None
    threads: int | None = None  # of the wall-clock phase
    cpu_model: str | None = None  # vendor-family-model: latency baselines are kept per CPU model
    fingerprint: Mapping[str, object] | None = None  # the host beyond its key (hardware.Fingerprint), as recorded
    # Keys this version does not know (a newer writer's, or a pytest_qbench_update_json hook's): kept as read,
    # so that a merge copies the environment it read unchanged.
    other: Mapping[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return open_record_json(self, always=_REQUIRED)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Environment:
        """An artifact's environment, as its schema validated it."""
        known = {item.name for item in fields(cls)} - {"other"}
        # A null where this version writes a value was not written by it: kept as it was read.
        given = {k: tuple(v) if isinstance(v, list) and k in ("flags", "int8_flags") else v
                 for k, v in data.items() if k in known and (v is not None or k in _REQUIRED)}
        other = {k: v for k, v in data.items() if k not in given}
        return cls(**given, other=other)  # type: ignore[arg-type]
