"""The diagnosis of a lost accuracy (diagnose/): node errors, ranges, the pre-flight and the repair."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Cause = Literal["graph", "kernel", "none", "undetermined"]  # of a lost accuracy (diagnose/diagnosis.py)


@dataclass(frozen=True)
class NodeError:
    """One quantized node of the graph the quantizer consumed."""

    node: str
    op_type: str
    family: str  # its exclusion family (layernorm, gelu, residual, gather, softmax), else its op type
    layer: str  # "layer.3", "embeddings" or "-", from the node name
    sqnr_db: float | None  # its output as consumers read it, quantized vs fp32 model (capped at SQNR_CAP)
    # The noise it adds, relative to its output's signal: 10 log10(1/SQNR out - 1/SQNR in), with the
    # worst input as produced and the output as consumers read it. 0 dB: noise as large as the signal.
    added_noise_db: float | None
    out_of_scale: bool  # it reads or writes a tensor quantized over a range beyond RANGE_LIMIT


@dataclass(frozen=True)
class GroupError:
    family: str
    layer: str
    nodes: int
    worst_sqnr_db: float | None
    max_added_noise_db: float | None


@dataclass(frozen=True)
class RangeIssue:
    tensor: str
    low: float
    high: float
    source: str  # "calibrated" (static: fixed in the graph) or "observed" (dynamic: per batch, here)
    nodes: list[str]  # the quantized nodes that read or write it


@dataclass(frozen=True)
class Preflight:
    """Scores on the same sentences: fp32, int8 simulated in float, and int8 on this CPU's kernels."""

    samples: int
    original_f1: float
    simulated_f1: float | None  # None: the graph holds integer ops that cannot be simulated
    kernel_f1: float
    max_loss: float
    cause: Cause
    explanation: str


@dataclass(frozen=True)
class Exclusion:
    """Nodes kept in fp32: exclusion families and node names (a repair's answer, or a candidate)."""

    families: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.families or self.nodes)

    def plus(self, families: Sequence[str] = (), nodes: Sequence[str] = ()) -> Exclusion:
        return Exclusion(tuple(dict.fromkeys((*self.families, *families))), tuple(dict.fromkeys((*self.nodes, *nodes))))

    def minus(self, other: Exclusion) -> Exclusion:
        return Exclusion(tuple(f for f in self.families if f not in other.families),
                         tuple(n for n in self.nodes if n not in other.nodes))

    def without(self, item: str) -> Exclusion:
        return Exclusion(tuple(f for f in self.families if f != item), tuple(n for n in self.nodes if n != item))

    @property
    def marker(self) -> str:
        """The marker arguments that apply it, ready to paste."""
        parts = []
        if self.families:
            parts.append(f"exclude={json.dumps(list(self.families))}")
        if self.nodes:
            parts.append(f"nodes_to_exclude={json.dumps(list(self.nodes))}")
        return ", ".join(parts) or "(no exclusion needed)"


@dataclass(frozen=True)
class Trial:
    families: list[str]
    nodes: list[str]
    f1: float
    split: str  # "sample" (the search) or "full" (confirmation and refinement)


@dataclass(frozen=True)
class RepairResult:
    exclusion: Exclusion  # what to exclude besides what the case already does
    f1: float  # with it, on the whole evaluation split
    target_f1: float  # the original's F1 there minus the case's allowed loss
    sample_f1: float | None  # None: found on the whole split, never scored on the sample
    sample_target_f1: float
    samples: int  # sentences in the search sample
    evaluations: int
    budget_spent: bool  # the evaluation cap stopped the search
    trials: list[Trial] = field(default_factory=list)
    speedup: float | None = None  # CPU-time speedup over fp32 with it, at the case's shape
    seconds: float = 0.0

    @property
    def met(self) -> bool:
        return self.f1 >= self.target_f1

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepairResult:
        """The inverse of `dataclasses.asdict`."""
        exclusion = Exclusion(tuple(data["exclusion"]["families"]), tuple(data["exclusion"]["nodes"]))
        return cls(**{**data, "exclusion": exclusion, "trials": [Trial(**t) for t in data["trials"]]})


@dataclass(frozen=True)
class Diagnosis:
    case_id: str
    batches: int
    sentences: int
    padded_fraction: float  # of the token positions in the diagnosis batches
    output_sqnr_db: float | None  # of the model's first output (the logits)
    nodes: list[NodeError]  # quantized nodes, culprits first (rank order)
    groups: list[GroupError]  # family x layer, worst first
    ranges: list[RangeIssue]
    preflight: Preflight
    seconds: float
    repair: RepairResult | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnosis:
        """The inverse of `dataclasses.asdict`."""
        return cls(**{
            **data,
            "nodes": [NodeError(**n) for n in data["nodes"]],
            "groups": [GroupError(**g) for g in data["groups"]],
            "ranges": [RangeIssue(**r) for r in data["ranges"]],
            "preflight": Preflight(**data["preflight"]),
            "repair": None if data["repair"] is None else RepairResult.from_dict(data["repair"]),
        })

    def families(self, members: Mapping[str, Sequence[str]]) -> list[str]:
        """Exclusion families that hold quantized nodes, in the rank of their worst node."""
        rank = {n.node: i for i, n in enumerate(self.nodes)}
        ranked = [(min(rank[m] for m in nodes if m in rank), f) for f, nodes in members.items()
                  if any(m in rank for m in nodes)]
        return [f for _, f in sorted(ranked)]
