"""Search for the smallest exclusion that brings a quantized model back within its accuracy target.

The search (after NNCF's accuracy control and Neural Compressor's fallback, with a hard cap on
evaluations): the diagnosis ranks exclusion families and nodes by the error they add; families are
tried first, kept when they help, in rank order; if they do not reach the target, the nodes are
ranked again with those families excluded and the smallest prefix of them that reaches it is found
by bisection; then each kept family and node is dropped again if the target holds without it
(backward pruning). Every candidate is scored on a subset of the
evaluation split; the result is confirmed on the whole split by the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from ..results import Exclusion, RepairResult, Trial

_NOTHING_EXCLUDED = Exclusion()

Score = Callable[[Exclusion], float]


def repair(
    sample: Score,
    full: Score,
    *,
    targets: tuple[float, float],
    families: Mapping[str, Sequence[str]],
    nodes: Sequence[str],
    max_evaluations: int,
    start: Exclusion = _NOTHING_EXCLUDED,
    rerank: Callable[[Exclusion], Sequence[str]] | None = None,
    samples: int = 0,
) -> RepairResult:
    """Search on the sample (`sample` scores a candidate there), confirm on the whole split (`full`);
    when the sample misled, search on from the result with the whole split. `targets` are the F1 to
    reach on the sample and on the whole split.

    `families` maps each exclusion family to its quantized nodes, in rank order; `nodes` are the
    quantized nodes in rank order; `start` is what the case already excludes; `rerank`, when given,
    ranks the nodes again once families are excluded (a collapse upstream hides what comes after it).
    Without reaching the target, the result is the best-scoring exclusion tried."""
    began = time.perf_counter()
    budget = _Budget(max_evaluations)
    found = _search(budget.scorer(sample, "sample", reserve=1), families, nodes, targets[0], start, rerank)
    score_full = budget.scorer(full, "full")
    try:
        f1 = score_full(found)
        if f1 < targets[1] and found != start:
            # The sample passed what the whole split does not: go on from there with the whole split.
            found = _search(score_full, families, nodes, targets[1], found, rerank)
            f1 = score_full(found)
    except _BudgetSpent:
        found, f1 = budget.best_full(targets[1])
    return RepairResult(
        exclusion=found.minus(start), f1=f1, target_f1=targets[1],
        sample_f1=budget.seen("sample", found), sample_target_f1=targets[0], samples=samples,
        evaluations=len(budget.trials), budget_spent=budget.spent, trials=budget.trials,
        seconds=time.perf_counter() - began,
    )


class _BudgetSpent(Exception):
    pass


class _Budget:
    """Counts evaluations across both splits, remembers them, and stops at the cap."""

    def __init__(self, cap: int) -> None:
        self.cap, self.spent = cap, False
        self.scores: dict[tuple[str, Exclusion], float] = {}
        self.trials: list[Trial] = []

    def scorer(self, score: Score, split: str, reserve: int = 0) -> Score:
        """`score` counted against the cap, keeping `reserve` evaluations for later."""
        def evaluate(candidate: Exclusion) -> float:
            key = (split, candidate)
            if key not in self.scores:
                if len(self.trials) >= self.cap - reserve:
                    self.spent = True
                    raise _BudgetSpent
                self.scores[key] = score(candidate)
                self.trials.append(Trial(list(candidate.families), list(candidate.nodes), self.scores[key], split))
            return self.scores[key]

        return evaluate

    def seen(self, split: str, candidate: Exclusion) -> float | None:
        return self.scores.get((split, candidate))

    def best_full(self, target: float) -> tuple[Exclusion, float]:
        scored = [(e, f) for (s, e), f in self.scores.items() if s == "full"]
        met = [(e, f) for e, f in scored if f >= target]
        return min(met, key=lambda t: (_size(t[0]), -t[1])) if met else max(scored, key=lambda t: t[1])


def _search(
    evaluate: Score, families: Mapping[str, Sequence[str]], nodes: Sequence[str], target: float,
    start: Exclusion, rerank: Callable[[Exclusion], Sequence[str]] | None,
) -> Exclusion:
    """The smallest exclusion reaching `target` that the search finds (module doc), else the best
    scoring one; within the budget, else the best so far."""
    tried: dict[Exclusion, float] = {}

    def scored(candidate: Exclusion) -> float:
        tried[candidate] = evaluate(candidate)
        return tried[candidate]

    try:
        if scored(start) < target:
            chosen = _forward(scored, families, nodes, target, start, rerank)
            if scored(chosen) >= target:
                _prune(scored, chosen, target, start)
    except _BudgetSpent:
        pass
    if not tried:
        return start
    met = [(e, f) for e, f in tried.items() if f >= target]
    return (min(met, key=lambda t: (_size(t[0]), -t[1])) if met else max(tried.items(), key=lambda t: t[1]))[0]


def _size(exclusion: Exclusion) -> tuple[int, int]:
    return len(exclusion.families), len(exclusion.nodes)


def _forward(
    evaluate: Callable[[Exclusion], float], families: Mapping[str, Sequence[str]], nodes: Sequence[str],
    target: float, chosen: Exclusion, rerank: Callable[[Exclusion], Sequence[str]] | None,
) -> Exclusion:
    start, best = chosen, evaluate(chosen)
    for family in families:
        if family in chosen.families:
            continue
        candidate = chosen.plus(families=[family])
        f1 = evaluate(candidate)
        if f1 > best:
            chosen, best = candidate, f1
        if best >= target:
            return chosen
    if rerank is not None and chosen != start:
        nodes = rerank(chosen)
    covered = {n for f in chosen.families for n in families.get(f, ())} | set(chosen.nodes)
    rest = [n for n in nodes if n not in covered]
    if not rest or evaluate(chosen.plus(nodes=rest)) < target:
        return chosen  # out of reach: `_search` returns the best score tried
    low, high = 0, len(rest)  # the prefix of `low` nodes falls short, that of `high` reaches the target
    while high - low > 1:
        middle = (low + high) // 2
        if evaluate(chosen.plus(nodes=rest[:middle])) >= target:
            high = middle
        else:
            low = middle
    return chosen.plus(nodes=rest[:high])


def _prune(evaluate: Callable[[Exclusion], float], chosen: Exclusion, target: float, start: Exclusion) -> Exclusion:
    """Drop each added family (last ranked first), then each added node, that the target holds without."""
    added = [f for f in reversed(chosen.families) if f not in start.families]
    added += [n for n in reversed(chosen.nodes) if n not in start.nodes]
    for item in added:
        candidate = chosen.without(item)
        if evaluate(candidate) >= target:
            chosen = candidate
    return chosen
