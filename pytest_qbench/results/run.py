"""What a session was asked to run and the settings it judged with: the JSON artifact's "run" object,
which a merge checks the shards against (report/outputs.py writes it, gate/merge.py reads it back)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from .open_record import open_record_json


@dataclass(frozen=True)
class RunRecord:
    shard: str | None  # "I/N"; None: the run was not sharded
    selected: tuple[str, ...]  # the node ids of every qbench case the session selected, before sharding
    # None: not recorded (by a writer other than a session, or an older pytest-qbench).
    id: str | None = None  # repeats of a case by different runs combine in a merge
    skipped: tuple[str, ...] | None = None  # the selected cases pytest skipped (pytest.skip): they ran, no result
    # The settings the run judged with (specs.RunSettings), so that a merge of its shards judges as it would have.
    speedup_rtol: float | None = None
    false_alarm_rate: float | None = None
    strict: bool | None = None
    # Keys this version does not know (a newer writer's, or a pytest_qbench_update_json hook's): kept as read.
    other: Mapping[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return open_record_json(self, always=("shard",))

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RunRecord:
        """An artifact's "run" object, as its schema validated it."""
        known = {item.name for item in fields(cls)} - {"other"}
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        other = {k: v for k, v in data.items() if k not in known}
        return cls(**given, other=other)  # type: ignore[arg-type]
