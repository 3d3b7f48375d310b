"""Why a quantized model lost accuracy: the error of each node against the fp32 graph it was made
from, the calibrated ranges that are out of scale, and whether the loss comes from the graph or from
this CPU's int8 kernels.

Node errors: both graphs run on the same batches with every float tensor exposed as an output
(graph optimisation off, so nothing is fused away), and tensors are matched by name, which covers
static QDQ graphs (a quantized tensor `X` is read through `X_DequantizeLinear_Output`) and dynamic
QOperator graphs (MatMulInteger and friends write the original MatMul's output name). SQNR is
computed in float64 over finite values; values beyond `MASK_MAGNITUDE` are attention masks standing
in for -inf and are left out, or they would dominate the signal and hide what quantization did to
the real scores.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..results import Cause, GroupError, NodeError, RangeIssue

if TYPE_CHECKING:
    import numpy as np
    import onnx

# transformers masks attention with finfo(float32).min ~ -3.4e38; nothing real is this large.
MASK_MAGNITUDE = 1e30
RANGE_LIMIT = 1e4  # a quantized range wider than this leaves 8 bits no resolution for real activations
SQNR_CAP = 200.0  # dB; exact matches (infinite SQNR) are stored as this, JSON having no infinity
DQ_SUFFIX = "_DequantizeLinear_Output"
# Integer ops that `simulate_integer_ops` rewrites into float; other integer kernels cannot be simulated.
_SIMULATED = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger"})
_LAYER = re.compile(r"(?:^|[/._])(?:layers?|blocks?|h)[._/](\d+)(?:[/._]|$)")  # layer.3, h.3, blocks_3

# ---- SQNR -----------------------------------------------------------------------------------------


@dataclass
class TensorError:
    """Running sums for one tensor: signal and noise power over the compared values."""

    signal: float = 0.0
    noise: float = 0.0
    compared: int = 0
    nonfinite: int = 0  # values the fp32 graph had finite and the quantized one did not
    low: float = math.inf  # finite values of the quantized run: the range dynamic quantization sees
    high: float = -math.inf

    def add(self, reference: np.ndarray, measured: np.ndarray) -> None:
        import numpy as np

        ref = np.asarray(reference, np.float64).ravel()
        got = np.asarray(measured, np.float64).ravel()
        if ref.shape != got.shape:
            return
        real = np.isfinite(ref) & (np.abs(ref) < MASK_MAGNITUDE)
        finite = np.isfinite(got)
        both = real & finite
        self.nonfinite += int(np.count_nonzero(real & ~finite))
        self.signal += float(np.sum(ref[both] ** 2))
        self.noise += float(np.sum((ref[both] - got[both]) ** 2))
        self.compared += int(np.count_nonzero(both))
        if finite.any():
            self.low, self.high = min(self.low, float(got[finite].min())), max(self.high, float(got[finite].max()))

    @property
    def sqnr_db(self) -> float | None:
        """10 log10(signal / noise): +inf for an exact match, None with nothing to compare."""
        if self.compared == 0:
            return None
        if self.nonfinite:
            return -math.inf
        if self.noise == 0.0:
            return math.inf
        if self.signal == 0.0:
            return -math.inf
        return 10.0 * math.log10(self.signal / self.noise)


def sqnr_db(reference: np.ndarray, measured: np.ndarray) -> float | None:
    """The SQNR of `measured` against `reference`, in dB, safe on masks and overflow (module doc)."""
    error = TensorError()
    error.add(reference, measured)
    return error.sqnr_db


def _capped(value: float | None) -> float | None:
    return None if value is None else max(-SQNR_CAP, min(SQNR_CAP, value))


# ---- graphs ------------------------------------------------------------------------------------------


def _float_tensors(model: onnx.ModelProto) -> set[str]:
    import onnx

    typed = [*model.graph.value_info, *model.graph.output]
    return {v.name for v in typed if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}


def _exposed(model: onnx.ModelProto, names: Iterable[str], folder: Path, file: str) -> Path:
    """`model` with `names` added as float outputs, saved under `folder`."""
    import onnx
    from onnx import helper

    present = {o.name for o in model.graph.output}
    model.graph.output.extend(
        helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in names if n not in present
    )
    path = folder / file
    onnx.save(model, str(path))
    return path


def quantized_nodes(consumed: onnx.ModelProto, quantized: onnx.ModelProto, operators: Sequence[str]) -> list[Any]:
    """Nodes of the consumed graph that quantization changed: in a QDQ graph they read dequantized
    inputs; in a QOperator graph they were replaced (MatMul -> MatMulInteger)."""
    after = {n.name: n for n in quantized.graph.node}
    found = []
    for node in consumed.graph.node:
        if node.op_type not in operators:
            continue
        twin = after.get(node.name)
        if twin is None or any(i.endswith(DQ_SUFFIX) for i in twin.input):
            found.append(node)
    return found


def _layer(name: str) -> str:
    match = _LAYER.search(name)
    if match:
        return f"layer.{match.group(1)}"
    return "embeddings" if "embedding" in name.lower() else "-"


def _ranges(quantized: onnx.ModelProto, observed: Mapping[str, TensorError]) -> dict[str, tuple[float, float, str]]:
    """tensor -> (low, high, source) of every quantized tensor whose range is known."""
    import numpy as np
    from onnx import numpy_helper

    constants = {i.name: numpy_helper.to_array(i) for i in quantized.graph.initializer}
    ranges = {}
    for node in quantized.graph.node:
        tensor = node.input[0] if node.input else ""
        if node.op_type == "QuantizeLinear" and len(node.input) >= 3 and node.input[1] in constants:
            scale, zero = constants[node.input[1]].astype(np.float64), constants[node.input[2]]
            info = np.iinfo(zero.dtype)
            zero = zero.astype(np.float64)
            low, high = (info.min - zero) * scale, (info.max - zero) * scale
            ranges[tensor] = (float(np.min(low)), float(np.max(high)), "calibrated")
        elif node.op_type == "DynamicQuantizeLinear" and tensor in observed and observed[tensor].compared:
            ranges[tensor] = (observed[tensor].low, observed[tensor].high, "observed")
    return ranges


def _touching(node: Any) -> list[str]:
    return [*node.input, *node.output]


# ---- the node errors ---------------------------------------------------------------------------------


def node_errors(
    consumed: Path,
    quantized: Path,
    feeds: Sequence[Mapping[str, np.ndarray]],
    *,
    operators: Sequence[str],
    families: Mapping[str, Sequence[str]],
    threads: int = 1,
) -> tuple[list[NodeError], list[RangeIssue], float | None]:
    """Quantized nodes ranked culprits first (out-of-scale ranges, then the noise they add), the
    out-of-scale ranges, and the SQNR of the model's first output as consumers read it."""
    import onnx

    from ..measure.ort_session import make_ort_session

    fp32, int8 = onnx.load(str(consumed)), onnx.load(str(quantized))
    names = sorted(_float_tensors(fp32) | {o.name for o in fp32.graph.output})
    int8_names = {t for n in int8.graph.node for t in n.output}
    paired = {n: n for n in names if n in int8_names}  # raw: each tensor as its producer wrote it
    paired |= {n + DQ_SUFFIX: n for n in names if n + DQ_SUFFIX in int8_names}  # as consumers read it
    with tempfile.TemporaryDirectory(prefix="qbench-diagnosis-") as tmp:
        reference = make_ort_session(_exposed(fp32, names, Path(tmp), "fp32.onnx"), threads, optimize=False)
        measured = make_ort_session(_exposed(int8, paired, Path(tmp), "int8.onnx"), threads, optimize=False)
        errors = _compare(reference, measured, paired, feeds)
    ranges = _ranges(int8, errors)
    out_of_scale = {t for t, (low, high, _) in ranges.items() if max(abs(low), abs(high)) > RANGE_LIMIT}
    nodes = quantized_nodes(fp32, int8, operators)
    issues = [
        RangeIssue(t, low, high, source, [n.name for n in nodes if t in _touching(n)])
        for t, (low, high, source) in ranges.items() if t in out_of_scale
    ]
    rows = _ranked(nodes, paired, errors, out_of_scale, families)
    return rows, issues, _capped(_sqnr(errors, fp32.graph.output[0].name, view=True))


def _sqnr(errors: Mapping[str, TensorError], tensor: str, view: bool) -> float | None:
    """The SQNR of `tensor` as its consumers read it (`view`: through its DequantizeLinear), or as produced."""
    key = tensor + DQ_SUFFIX if view and tensor + DQ_SUFFIX in errors else tensor
    return errors[key].sqnr_db if key in errors else None


def _ranked(nodes: Sequence[Any], paired: Mapping[str, str], errors: Mapping[str, TensorError],
            out_of_scale: set[str], families: Mapping[str, Sequence[str]]) -> list[NodeError]:
    """A row per quantized node, culprits first: those touching an out-of-scale range, then by the noise
    each adds to what it reads."""
    family_of = {n: f for f, members in families.items() for n in members}
    rows = []
    for node in nodes:
        inputs = [s for s in (_sqnr(errors, i, view=False) for i in node.input if i in paired) if s is not None]
        outputs = [s for s in (_sqnr(errors, o, view=True) for o in node.output) if s is not None]
        out = min(outputs) if outputs else None
        before = min(inputs) if inputs else math.inf  # graph inputs and weights come in exact
        rows.append(NodeError(
            node=node.name, op_type=node.op_type, family=family_of.get(node.name, node.op_type.lower()),
            layer=_layer(node.name), sqnr_db=_capped(out), added_noise_db=_added_noise(before, out),
            out_of_scale=any(t in out_of_scale for t in _touching(node)),
        ))
    return sorted(rows, key=lambda r: (not r.out_of_scale, -_known(r.added_noise_db)))


def _added_noise(sqnr_in: float, sqnr_out: float | None) -> float | None:
    if sqnr_out is None:
        return None
    added = _noise_ratio(sqnr_out) - _noise_ratio(sqnr_in)
    return _capped(10.0 * math.log10(added) if added > 0 else -math.inf)


def _noise_ratio(sqnr: float) -> float:
    return 0.0 if sqnr == math.inf else math.inf if sqnr == -math.inf else 10.0 ** (-sqnr / 10.0)


def _known(value: float | None) -> float:
    return -math.inf if value is None else value


def _compare(
    reference: Any, measured: Any, paired: Mapping[str, str], feeds: Sequence[Mapping[str, np.ndarray]]
) -> dict[str, TensorError]:
    """Run both models batch by batch and accumulate, so only one batch's tensors are held at once."""
    errors: dict[str, TensorError] = defaultdict(TensorError)
    ref_names = [o.name for o in reference.get_outputs()]
    got_names = [o.name for o in measured.get_outputs()]
    for feed in feeds:
        ref = dict(zip(ref_names, reference.run(None, _feed(reference, feed)), strict=True))
        got = dict(zip(got_names, measured.run(None, _feed(measured, feed)), strict=True))
        for name, source in paired.items():
            if name in got and source in ref:
                errors[name].add(ref[source], got[name])
    return dict(errors)


def _feed(ort_session: Any, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {i.name: feed[i.name] for i in ort_session.get_inputs()}


def group_errors(nodes: Sequence[NodeError]) -> list[GroupError]:
    """Family x layer, worst first: where in the model the error comes from, at a glance."""
    groups: dict[tuple[str, str], list[NodeError]] = defaultdict(list)
    for node in nodes:
        groups[(node.family, node.layer)].append(node)

    def worst(values: Iterable[float | None], pick: Callable[..., float]) -> float | None:
        known = [v for v in values if v is not None]
        return pick(known) if known else None

    rows = [
        GroupError(family, layer, len(members), worst((m.sqnr_db for m in members), min),
                   worst((m.added_noise_db for m in members), max))
        for (family, layer), members in groups.items()
    ]
    return sorted(rows, key=lambda g: -_known(g.max_added_noise_db))


# ---- the pre-flight ------------------------------------------------------------------------------------


def simulate_integer_ops(quantized: onnx.ModelProto) -> onnx.ModelProto | None:
    """`quantized` with each MatMulInteger computed in float (no 16-bit intermediate; exact up to 2^24), or None
    when it holds an integer kernel this cannot rewrite. QDQ graphs need no rewrite: run unoptimised,
    their Quantize/DequantizeLinear pairs already simulate int8 in float."""
    import onnx

    from ..variants.inspect import QUANTIZED_OP_TYPES

    ops = {n.op_type for n in quantized.graph.node}
    if ops & QUANTIZED_OP_TYPES - _SIMULATED:
        return None
    model = onnx.ModelProto()
    model.CopyFrom(quantized)
    nodes = []
    for node in model.graph.node:
        nodes += _float_matmul(node) if node.op_type == "MatMulInteger" else [node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def simulation(quantized: Path, folder: Path) -> Path | None:
    """A file under `folder` that, run unoptimised, computes `quantized`'s int8 arithmetic in float;
    None when it holds integer kernels that cannot be simulated."""
    import onnx

    model = simulate_integer_ops(onnx.load(str(quantized)))
    if model is None:
        return None
    path = folder / "simulated.onnx"
    onnx.save(model, str(path))
    return path


def _float_matmul(node: Any) -> list[Any]:
    """MatMulInteger(a, b, a_zero, b_zero) as Cast(MatMul(a - a_zero, b - b_zero)) in float."""
    import onnx
    from onnx import helper

    inputs = [*node.input, "", ""][:4]
    nodes, operands = [], []
    for side, value, zero in (("a", inputs[0], inputs[2]), ("b", inputs[1], inputs[3])):
        name = f"{node.name}_sim_{side}"
        nodes.append(helper.make_node("Cast", [value], [name], to=onnx.TensorProto.FLOAT))
        if zero:
            nodes.append(helper.make_node("Cast", [zero], [name + "_zero"], to=onnx.TensorProto.FLOAT))
            nodes.append(helper.make_node("Sub", [name, name + "_zero"], [name + "_centred"]))
            name += "_centred"
        operands.append(name)
    product = f"{node.name}_sim_product"
    return [
        *nodes,
        helper.make_node("MatMul", operands, [product]),
        helper.make_node("Cast", [product], [node.output[0]], to=onnx.TensorProto.INT32),
    ]


def classify(original: float, simulated: float | None, kernel: float, max_loss: float) -> tuple[Cause, str]:
    """Which of the graph or the kernels loses the accuracy, from the three scores of the pre-flight."""
    lost_kernel = original - kernel
    if simulated is None:
        if lost_kernel <= max_loss:
            return "none", f"the int8 model loses {lost_kernel:.4f} F1 here, within max_loss {max_loss}"
        return "undetermined", (
            f"the int8 model loses {lost_kernel:.4f} F1; its graph holds integer kernels that cannot be"
            " simulated in float, so graph and kernel causes cannot be told apart"
        )
    lost_graph = original - simulated
    if lost_graph > max_loss:
        return "graph", (
            f"graph/calibration: int8 simulated in float already loses {lost_graph:.4f} F1 (kernels:"
            f" {lost_kernel:.4f}); what is quantized, or over which ranges, costs the accuracy:"
            " exclude the nodes ranked below, or calibrate differently"
        )
    if lost_kernel > max_loss:
        return "kernel", (
            f"kernel: int8 simulated in float loses only {lost_graph:.4f} F1 but this CPU's int8 kernels"
            f" lose {lost_kernel:.4f}; on x86 without VNNI U8S8 sums saturate: set"
            " saturation_remedy=\"x64quantprecision\" (or \"u8u8\", \"reduce_range\")"
        )
    return "none", (
        f"neither loses more than max_loss {max_loss} on these sentences (simulated {lost_graph:.4f},"
        f" kernels {lost_kernel:.4f}): the loss is elsewhere in the split"
    )
