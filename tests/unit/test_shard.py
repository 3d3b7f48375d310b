"""Shards: the split of a run's cases into groups per shard, balanced by recorded durations (their
merge: test_merge.py; the runs of shards as pytest processes: tests/e2e/test_shard_runs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_qbench import QbenchConfigError
from pytest_qbench.shard import durations_from, plan
from pytest_qbench.specs import Shard

# ---- the split ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", ""])
def test_a_bad_shard_says_what_it_wants(text: str):
    with pytest.raises(QbenchConfigError, match="is not I/N with 1 <= I <= N"):
        Shard.parse(text)
    assert str(Shard.parse("2/4")) == "2/4"


GROUPS = {f"g{i}": [f"t::case[g{i}-{j}]" for j in range(3)] for i in range(6)}


def test_the_plan_keeps_each_group_whole_and_is_deterministic():
    first = plan(GROUPS, 4, {})
    assert first == plan(dict(reversed(list(GROUPS.items()))), 4, {})  # order of collection does not matter
    assert sorted(g for shard in first.shards for g in shard) == sorted(GROUPS)  # every group once
    assert sorted(first.loads) == [3, 3, 6, 6] and not first.by_duration  # 6 groups of 3 cases on 4 shards


def test_durations_balance_the_shards_and_fill_in_the_unknown():
    durations = {n: 10.0 for n in GROUPS["g0"]} | {n: 1.0 for g in ("g1", "g2", "g3") for n in GROUPS[g]}
    split = plan(GROUPS, 2, durations)
    assert split.by_duration and split.shards[0] == ["g0"]  # 30 s alone, against 5 groups of about 3 s
    assert split.loads == [30.0, 15.0]  # g4 and g5 weigh the median of the known cases: 1 s each


def test_unreadable_durations_are_a_clear_error(tmp_path: Path):
    with pytest.raises(QbenchConfigError, match="cannot read case durations .* leave --qbench-shard-durations out"):
        durations_from(tmp_path / "missing.json")
