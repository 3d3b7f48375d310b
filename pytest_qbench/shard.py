"""Split the qbench cases of a session into shards for parallel CI jobs (`--qbench-shard I/N`).

Deterministic (the same collection and durations give the same split in every job), balanced by the
case durations of an earlier artifact (longest processing time first onto the least loaded shard),
else by case counts, and each model x variant on one shard, so no shard builds another's variant.
Pure Python: the plugin calls it at collection time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from .errors import QbenchConfigError
from .specs import CaseSpec


def group_of(case: CaseSpec) -> str:
    """What one build serves: the model (None: the session's fixture), the data and the variant."""
    return json.dumps([case.model, case.data.dataset, case.variant.to_dict()], sort_keys=True, default=str)


@dataclass(frozen=True)
class Plan:
    shards: list[list[str]]  # per shard, its groups
    loads: list[float]  # per shard, its expected seconds (or case count)
    by_duration: bool  # False: no earlier durations, balanced by case counts


def plan(groups: Mapping[str, Sequence[str]], count: int, durations: Mapping[str, float]) -> Plan:
    """Assign each group (key -> its case node ids) to one of `count` shards: heaviest first, each onto
    the least loaded shard (lowest index on ties). A case without a recorded duration weighs the
    median of those recorded; without any, every case weighs 1."""
    known = [d for d in durations.values() if d > 0]
    default = median(known) if known else 1.0
    weight = {g: sum(durations.get(n, default) for n in ids) for g, ids in groups.items()}
    shards: list[list[str]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for group in sorted(groups, key=lambda g: (-weight[g], g)):
        target = min(range(count), key=lambda i: (loads[i], i))
        shards[target].append(group)
        loads[target] += weight[group]
    return Plan(shards, loads, bool(known))


def durations_from(path: Path) -> dict[str, float]:
    """Case node id -> seconds, from an earlier artifact (a shard's or a merged one), or from the
    durations file a merge writes (`--durations-out`)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if "durations" in data:
            return {nodeid: float(seconds) for nodeid, seconds in data["durations"].items()}
        return {c["nodeid"]: float(c["seconds"]) for c in data["cases"] if c.get("seconds")}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise QbenchConfigError(
            f"qbench: cannot read case durations from {str(path)!r} ({type(error).__name__}: {error});"
            " pass an artifact of an earlier run (.qbench/results.json), or leave --qbench-shard-durations out"
            " to balance by case counts"
        ) from None
