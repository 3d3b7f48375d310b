"""Resolve the reference suite's node-exclusion families to node names of an ONNX graph.

Run it on the graph that is going to be quantized: graph optimisation fuses patterns away (an
O1 graph has SkipLayerNormalization where the exported one had a residual Add followed by a
decomposed LayerNorm), so names from another graph would not match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import QbenchConfigError
from ..specs import EXCLUSION_FAMILIES

if TYPE_CHECKING:
    import onnx

LAYERNORM_OPS = frozenset({
    "LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization",
    "SkipSimplifiedLayerNormalization", "EmbedLayerNormalization",
})
GELU_OPS = frozenset({"Gelu", "FastGelu", "BiasGelu", "QuickGelu"})


class _Graph:
    def __init__(self, graph: onnx.GraphProto) -> None:
        self.nodes = list(graph.node)
        self._producer = {out: node for node in self.nodes for out in node.output}
        self._consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in self.nodes:
            for name in node.input:
                self._consumers[name].append(node)

    def of_type(self, *op_types: str) -> list[onnx.NodeProto]:
        return [n for n in self.nodes if n.op_type in op_types]

    def parents(self, node: onnx.NodeProto) -> list[onnx.NodeProto]:
        return [self._producer[i] for i in node.input if i in self._producer]

    def children(self, node: onnx.NodeProto) -> list[onnx.NodeProto]:
        return [c for out in node.output for c in self._consumers.get(out, [])]

    def parent(self, node: onnx.NodeProto, op_type: str) -> onnx.NodeProto | None:
        return next((p for p in self.parents(node) if p.op_type == op_type), None)

    def child(self, node: onnx.NodeProto, op_type: str) -> onnx.NodeProto | None:
        return next((c for c in self.children(node) if c.op_type == op_type), None)

    def path_up(self, node: onnx.NodeProto, op_types: Sequence[str]) -> list[onnx.NodeProto] | None:
        """The chain of producers of the given types above `node`, or None if it breaks."""
        path: list[onnx.NodeProto] = []
        for op_type in op_types:
            above = self.parent(node, op_type)
            if above is None:
                return None
            path.append(above)
            node = above
        return path


def _layernorm(g: _Graph) -> list[onnx.NodeProto]:
    found = g.of_type(*LAYERNORM_OPS)
    # Unfused: (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * gamma + beta
    for div in g.of_type("Div"):
        centred = g.path_up(div, ["Sub", "ReduceMean"])
        spread = g.path_up(div, ["Sqrt", "Add", "ReduceMean", "Pow", "Sub"])
        if centred is None or spread is None or spread[-1] is not centred[0]:
            continue
        scale = g.child(div, "Mul")
        shift = g.child(scale, "Add") if scale is not None else None
        found += [*centred, *spread[:-1], div, *(n for n in (scale, shift) if n is not None)]
    return found


def _gelu(g: _Graph) -> list[onnx.NodeProto]:
    found = g.of_type(*GELU_OPS)
    # Unfused: x * 0.5 * (1 + erf(x / sqrt(2)))
    for erf in g.of_type("Erf"):
        scale_in = g.parent(erf, "Div") or g.parent(erf, "Mul")
        plus_one = g.child(erf, "Add")
        times_x = g.child(plus_one, "Mul") if plus_one is not None else None
        if scale_in is None or plus_one is None or times_x is None:  # no times_x without plus_one
            continue
        half = g.child(times_x, "Mul")
        found += [scale_in, erf, plus_one, times_x, *([half] if half is not None else [])]
    return found


def _add_after(parent_type: str) -> Callable[[_Graph], list[onnx.NodeProto]]:
    return lambda g: [n for n in g.of_type("Add") if g.parent(n, parent_type) is not None]


def _add_before(child_type: str) -> Callable[[_Graph], list[onnx.NodeProto]]:
    return lambda g: [n for n in g.of_type("Add") if g.child(n, child_type) is not None]


_RESOLVERS: dict[str, Callable[[_Graph], list[onnx.NodeProto]]] = {
    "layernorm": _layernorm,
    "gelu": _gelu,
    "residual": _add_after("Add"),
    "gather": _add_after("Gather"),  # embeddings: word + position (+ token type) lookups
    "softmax": _add_before("Softmax"),  # the attention mask added to the scores
}


def _resolve(graph: _Graph, family: str) -> list[str]:
    if family not in _RESOLVERS:
        raise QbenchConfigError(
            f"qbench: unknown exclusion family {family!r}; allowed: {', '.join(EXCLUSION_FAMILIES)}"
        )
    matched = {id(n) for n in _RESOLVERS[family](graph)}
    return [n.name for n in graph.nodes if id(n) in matched and n.name]


def resolve_family(model: onnx.ModelProto, family: str) -> list[str]:
    """Names of the nodes of one exclusion family, in graph order."""
    return _resolve(_Graph(model.graph), family)


def resolve_families(model: onnx.ModelProto, families: Sequence[str]) -> list[str]:
    """Names of the nodes of all given families, deduplicated, in family then graph order."""
    graph = _Graph(model.graph)
    return list(dict.fromkeys(name for family in families for name in _resolve(graph, family)))
