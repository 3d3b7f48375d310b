"""What a graph holds, read from its ops and initializers (external data is not loaded): the
original's precision, the quantized ops a variant ended up with, and its 8-bit types."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..results import OriginalRecord, QuantizationRecord
from ..specs import GIVEN, VariantSpec

# Op types that only appear in a graph when the quantizer changed something.
QUANTIZED_OP_TYPES = frozenset({
    "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear",
    "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QAttention", "QEmbedLayerNormalization",
    "QGemm", "QLinearMatMul", "QLinearConv", "QLinearAdd", "QLinearMul", "QLinearSoftmax",
    "QLinearSigmoid", "QLinearLeakyRelu", "QLinearConcat", "QLinearAveragePool",
    "QLinearGlobalAveragePool", "QLinearWhere", "DynamicQuantizeLSTM",
    "MatMulNBits", "MatMulBnb4", "GatherBlockQuantized",  # 2- to 8-bit block-quantized weights
})
_BLOCK_QUANTIZED = {"MatMulNBits": 4, "MatMulBnb4": 4, "GatherBlockQuantized": 4}  # default bits
_FLOAT_NAMES = {1: "fp32", 10: "fp16", 16: "bf16", 11: "fp64"}  # onnx.TensorProto data types


def quantized_ops(graph: Any) -> Counter[str]:
    return Counter(n.op_type for n in graph.node if n.op_type in QUANTIZED_OP_TYPES)


def given_record(graph: Any, name: str) -> QuantizationRecord:
    ops = quantized_ops(graph)
    activations, weights = integer_types(graph)
    note = None if ops else f"quantized_file {name} holds no quantized op: it is gated as given, but it is not int8"
    return QuantizationRecord(preset=GIVEN, quantized_ops=dict(sorted(ops.items())), excluded_nodes=[], note=note,
                              activations_dtype=activations, weights_dtype=weights)


def integer_types(graph: Any) -> tuple[str | None, str | None]:
    """The 8-bit types of a quantized graph's activations (DynamicQuantizeLinear's, or a QuantizeLinear's
    zero point) and weights (the initializers MatMulInteger, ConvInteger or DequantizeLinear read)."""
    initializers = {t.name: t.data_type for t in graph.initializer}
    names: dict[int | None, str] = {2: "uint8", 3: "int8"}  # onnx.TensorProto.UINT8, INT8
    activations = weights = None
    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            activations = activations or "uint8"
        elif node.op_type == "QuantizeLinear" and len(node.input) > 2:
            activations = activations or names.get(initializers.get(node.input[2]))
        weight = {"MatMulInteger": 1, "ConvInteger": 1, "DequantizeLinear": 0}.get(node.op_type)
        if weight is not None:
            weights = weights or names.get(initializers.get(node.input[weight]))
    return activations, weights


def original_record(onnx_file: Path) -> OriginalRecord:
    """What precision the original graph computes in, read from its ops and weights (external data
    is not loaded): quantized ops make it int8 or n-bit whatever its float tensors are."""
    import onnx

    graph = onnx.load(str(onnx_file), load_external_data=False).graph
    ops = quantized_ops(graph)
    kinds = []
    for node in graph.node:
        if node.op_type in _BLOCK_QUANTIZED:
            bits = next((a.i for a in node.attribute if a.name == "bits"), _BLOCK_QUANTIZED[node.op_type])
            kinds.append(f"int{bits}")
    if ops.keys() - _BLOCK_QUANTIZED.keys():
        kinds.append("int8")
    if not kinds:
        floats = Counter(t.data_type for t in graph.initializer if t.data_type in _FLOAT_NAMES)
        kinds.append(_FLOAT_NAMES[floats.most_common(1)[0][0]] if floats else "fp32")
    return OriginalRecord(precision="+".join(sorted(set(kinds))), quantized_ops=dict(sorted(ops.items())),
                          weight_sparsity=weight_sparsity(graph))


def weight_sparsity(graph: Any) -> float | None:
    """The fraction of exact zeros in the float weights that MatMul and Gemm nodes read (their second
    input, a 2-D initializer held in the file), or None when there is none."""
    from onnx import numpy_helper

    initializers = {t.name: t for t in graph.initializer}
    names = {n.input[1] for n in graph.node if n.op_type in ("MatMul", "Gemm") and len(n.input) > 1}
    weights = [initializers[n] for n in names if n in initializers]
    arrays = [numpy_helper.to_array(t) for t in weights if t.data_type in _FLOAT_NAMES and len(t.dims) == 2
              and t.data_location != 1]  # 1: onnx.TensorProto.EXTERNAL, not loaded
    total = sum(a.size for a in arrays)
    return float(sum((a == 0).sum() for a in arrays) / total) if total else None


def dtype_name(quant_type: Any) -> str:
    name: str = quant_type.name  # an onnxruntime QuantType (onnxruntime is untyped)
    return {"QInt8": "int8", "QUInt8": "uint8"}.get(name, name.lower())


def nothing_quantized(spec: VariantSpec) -> str:
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    if spec.approach == "dynamic" and not set(spec.operators) & set(IntegerOpsRegistry):
        return (
            f"dynamic quantization of {list(spec.operators)} quantized nothing: onnxruntime has no"
            f" dynamic (integer) kernel for {', '.join(spec.operators)}; the variant is the fp32 graph"
        )
    return (
        f"{spec.approach} quantization of {list(spec.operators)} quantized nothing: no node of those"
        " types was left to quantize (all excluded, or fused away by graph optimisation);"
        " the variant is the fp32 graph"
    )
