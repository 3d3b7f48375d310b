"""The blocks of docs/RESULTS.md: bench/example_gate.py (the example gate's own artifact, beside the
reference card's figures), bench/collapse.py, bench/diagnosis_cost.py, bench/saturation.py, bench/presets.py,
and bench/label_map_split.py's finished study (archived: bench/ARCHIVE.md)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pytest_qbench import CaseResult
from pytest_qbench.report.runtimes import RuntimeRow, runtime_rows

from .benchmarks import repair_found
from .common import Result, archived, ci, cpu, footer, run_of, script, span, table


def render_diagnosis_findings(result: Result, ranked: int = 9) -> str:
    """What the diagnosis of the collapse found (its first run): the cause, the ranges out of scale, the
    nodes ranked first, and the repair."""
    case = result.data["runs"][0]["case"]
    diagnosis = case["diagnosis"]
    preflight, repair = diagnosis["preflight"], diagnosis["repair"]
    by_range: dict[tuple[float, float], list[str]] = {}
    for r in diagnosis["ranges"]:
        by_range.setdefault((r["low"], r["high"]), []).append(f"`{r['tensor']}`")
    ranges = "; ".join(f"{len(names)} tensor{'s' if len(names) > 1 else ''} over [{low:.1e}, {high:g}] (one int8 step"
                       f" {(high - low) / 255:.1e}): {', '.join(names)}" for (low, high), names in by_range.items())
    nodes = ", ".join(f"`{n['node']}` ({n['family']}, {n['sqnr_db']:.1f} dB)" for n in diagnosis["nodes"][:ranked])
    return "\n".join(
        [
            f"- {diagnosis['seconds']:.0f} s, on {diagnosis['batches']} padded batches of {diagnosis['sentences']}"
            " validation"
            f" sentences in all, {diagnosis['padded_fraction']:.0%} of the positions padding",
            f"- cause **{preflight['cause']}**: on {preflight['samples']} sentences spread over the split, fp32"
            f" {preflight['original_f1']:.4f}, int8 *simulated in float* {preflight['simulated_f1']:.4f}, int8 on the"
            " CPU's"
            f" kernels {preflight['kernel_f1']:.4f}",
            f"- out of scale: {ranges}",
            f"- ranked first, with each output's SQNR over the real positions: {nodes}; the logits' SQNR"
            f" {diagnosis['output_sqnr_db']:.1f} dB",
            f"- repair (`max_loss` {preflight['max_loss']:g}): {repair_found(repair)}; {repair['evaluations']}"
            " evaluations",
            "",
            footer(run_of(result.data), script("diagnosis_cost.py"), result.path),
        ]
    )


# ---- bench/collapse.py ---------------------------------------------------------------------------------


def render_collapse(result: Result) -> str:
    data = result.data
    rows = [
        [
            f"`[{', '.join(r['operators'])}]`",
            r["exclusion"],
            r["excluded_nodes"],
            f"{r['fp32_f1']:.4f} → **{r['int8_f1']:.4f}**"
            if r["int8_f1"] < 0.5
            else f"{r['fp32_f1']:.4f} → {r['int8_f1']:.4f}",
            ci({"value": r["speedup"], "ci_low": r["ci"][0], "ci_high": r["ci"][1]}),
        ]
        for r in data["rows"]
    ]
    return "\n".join([
        table(["static int8 of", "kept in fp32", "nodes kept in fp32", "F1 fp32 → int8", "cpu speedup (95% CI)"], rows),
        "", footer(run_of(data), script("collapse.py"), result.path),
    ])


# ---- bench/example_gate.py: the example gate's own artifact ----------------------------------------------

CARD_TESTS = ("test_conll03_reference_card", "test_conll03_reference_card_static")
SENTIMENT_TEST = "test_rotten_tomatoes_int8"
CARD_ROW = re.compile(r"^\| `(\w+)` \| `\[(.*?)\]` \|(.*)$")
CARD_SHAPE = re.compile(r"batch size = (\d+), input length = (\d+)")
CARD_METRICS = ("precision", "recall", "f1", "accuracy")


def gate_cases(result: Result, tests: Sequence[str]) -> list[dict[str, Any]]:
    return [c for c in result.data["artifact"]["cases"] if c["test"].split("::")[-1] in tests]


def _gate_footer(result: Result) -> str:
    env = result.data["artifact"]["environment"]
    return footer(run_of(result.data), script("example_gate.py"), result.path,
                  f", onnxruntime {env['libraries'].get('onnxruntime')}")


def read_card(text: str) -> tuple[dict, dict]:
    """The reference card's (docs/reference-card.md) non-time rows {(approach, ops): [8 numbers]} and time
    rows {(bs, len, approach, ops): [4 numbers]}."""
    accuracy, timing, shape = {}, {}, None
    for line in text.splitlines():
        if match := CARD_SHAPE.search(line):
            shape = (int(match[1]), int(match[2]))
        elif match := CARD_ROW.match(line):
            numbers = [float(x) for x in re.findall(r"\d+\.\d+", match[3])]
            key = (match[1], "+".join(op.strip(" '") for op in match[2].split(",")))
            if shape is None:
                accuracy[key] = numbers
            else:
                timing[(*shape, *key)] = numbers
    return accuracy, timing


def _pair(ours: float | None, reference: float, digits: int) -> str:
    return f"{'–' if ours is None else f'{ours:.{digits}f}'} ({reference:.{digits}f})"


def render_card_accuracy(result: Result, card: Result) -> str:
    """Accuracy in the reference card's layout: each cell "ours (the card's)"."""
    header = ["quantization_approach", "operators_to_quantize"]
    for metric in CARD_METRICS:
        header += [f"{metric} (original)", f"{metric} (optimized)"]
    seen = {key: group[0] for key, group in variants(gate_cases(result, CARD_TESTS)).items()}
    rows = []
    for key, numbers in read_card(card.data)[0].items():
        case, cells = seen.get(key), [f"`{key[0]}`", f"`{key[1]}`"]
        for i, metric in enumerate(CARD_METRICS):
            for j, side in enumerate(("original", "optimized")):
                ours = None if case is None or case["accuracy"][side] is None else case["accuracy"][side][metric]
                cells.append(_pair(ours, numbers[2 * i + j], 3))
        rows.append(cells)
    return "\n".join([table(header, rows, ":-:"), "", _gate_footer(result)])


def render_card_latency(result: Result, card: Result) -> str:
    """Latency in the reference card's layout, one table per shape: each cell "ours (the card's)". The card's
    throughput is calls per second (1000 / latency at every batch size): ours is shown in that unit."""
    by_key = {(c["batch_size"], c["sequence_length"], c["approach"], "+".join(c["operators"])): c
              for c in gate_cases(result, CARD_TESTS)}
    header = ["quantization_approach", "operators_to_quantize", "latency_mean (original, ms)",
              "latency_mean (optimized, ms)", "calls/s (original)", "calls/s (optimized)",
              "wall speedup [95% CI] (reference)", "cpu speedup [95% CI]"]
    shapes: dict[tuple[int, int], list[list[str]]] = {}
    for (bs, length, approach, ops), numbers in read_card(card.data)[1].items():
        latency = (by_key.get((bs, length, approach, ops)) or {}).get("latency")
        shapes.setdefault((bs, length), []).append([f"`{approach}`", f"`{ops}`", *_card_timing(latency, numbers)])
    parts = []
    for (bs, length), rows in shapes.items():
        parts += [f"Batch size = {bs}, input length = {length}.", "", table(header, rows, ":-:"), ""]
    return "\n".join([*parts, _gate_footer(result)])


def _card_timing(latency: dict[str, Any] | None, card: list[float]) -> list[str]:
    reference = f"({card[0] / card[1]:.2f})"
    if latency is None:
        return [_pair(None, card[i], 2) for i in range(4)] + [f"– {reference}", "–"]
    means = [latency[side]["mean_ms"] for side in ("original", "optimized")]
    wall, cpu_time = latency["wall_speedup"], latency["cpu"]["speedup"]
    return [_pair(means[0], card[0], 2), _pair(means[1], card[1], 2), _pair(1000 / means[0], card[2], 2),
            _pair(1000 / means[1], card[3], 2),
            f"{wall['value']:.2f} [{wall['ci_low']:.2f}, {wall['ci_high']:.2f}] {reference}",
            f"{cpu_time['value']:.2f} [{cpu_time['ci_low']:.2f}, {cpu_time['ci_high']:.2f}]"]


def variants(cases: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The cases grouped by variant, (approach, "Add+MatMul"), in the order they ran."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for case in cases:
        grouped.setdefault((case["approach"], "+".join(case["operators"])), []).append(case)
    return grouped


def speedups(cases: list[dict[str, Any]], kind: str) -> str:
    values = [c["latency"]["cpu"]["speedup"]["value"] if kind == "cpu" else c["latency"]["wall_speedup"]["value"]
              for c in cases if c["latency"]]
    return f"x{span(values)}"


def f1_of(case: dict[str, Any], side: str) -> float:
    return case["accuracy"][side]["f1"]


def render_card_summary(result: Result, card: Result) -> str:
    """Per variant of the reference matrix: F1 fp32 -> int8 and the speedups over the 9 shapes, beside the card's."""
    reference_accuracy, reference_timing = read_card(card.data)
    training = next(t for name, t in result.data["training"].items() if name.startswith("conll"))
    lines = [f"- the model: fp32 F1 {training['validation']['f1']:.4f} at the end of training"
             f" ({training['train_seconds']:.0f} s, {training['epochs']} epochs, on the CPU below); the card's 0.940"]
    for (approach, ops), cases in variants(gate_cases(result, CARD_TESTS)).items():
        card_f1 = reference_accuracy[(approach, ops)][4:6]
        reference_speedups = [n[0] / n[1] for (_, _, a, o), n in reference_timing.items() if (a, o) == (approach, ops)]
        lines.append(
            f"- {approach} [{ops.replace('+', ', ')}]: F1 {f1_of(cases[0], 'original'):.4f} →"
            f" {f1_of(cases[0], 'optimized'):.4f}"
            f" ({f1_of(cases[0], 'optimized') - f1_of(cases[0], 'original'):+.4f}; the card {card_f1[0]:.3f} →"
            f" {card_f1[1]:.3f});"
            f" over the {len(cases)} shapes CPU-time speedup {speedups(cases, 'cpu')}, wall-clock"
            f" {speedups(cases, 'wall')} (the card x{span(reference_speedups)})"
        )
    return "\n".join([*lines, "", _gate_footer(result)])


def render_sentiment(result: Result) -> str:
    """The text-classification example: fp32 (at the end of training and as the gate's ONNX original) and
    each int8 variant, with the CPU-time speedup at each shape."""
    cases = [
        c for c in gate_cases(result, (SENTIMENT_TEST,)) if c.get("runtime", ORT) == ORT
    ]  # OpenVINO's: render_runtimes
    by_variant = variants(cases)
    shapes = list(dict.fromkeys(f"bs{c['batch_size']} len{c['sequence_length']}" for c in cases))
    training = next(t for name, t in result.data["training"].items() if "sentiment" in name)["validation"]
    original = cases[0]["accuracy"]["original"]
    rows = [["fp32 (torch, at the end of training)", f"{training['macro_f1']:.4f}", f"{training['accuracy']:.4f}", "–"],
            ["fp32 ONNX (the gate's original)", f"{original['f1']:.4f}", f"{original['accuracy']:.4f}", "–"]]
    for (approach, ops), group in by_variant.items():
        optimized = group[0]["accuracy"]["optimized"]
        rows.append(
            [
                f"{approach} int8 [{ops.replace('+', ', ')}]",
                f"{optimized['f1']:.4f}",
                f"{optimized['accuracy']:.4f}",
                " / ".join(ci(c["latency"]["cpu"]["speedup"]) for c in group),
            ]
        )
    changes = "; ".join(f"{approach} {group[0]['accuracy']['optimized']['f1'] - original['f1']:+.4f}"
                        for (approach, _), group in by_variant.items())
    return "\n".join([
        table(["", "macro-F1", "accuracy", f"CPU-time speedup, {' / '.join(shapes)} (95% CI)"], rows), "",
        f"- macro-F1 of int8 against the fp32 original: {changes}", "", _gate_footer(result)])


# ---- the two runtimes side by side (bench/example_gate.py) ---------------------------------------------------

ORT = "onnxruntime"
OPENVINO_TEST = "test_conll03_openvino"
RUNTIME_COLUMNS = (("onnxruntime", "dynamic-Add+MatMul"), ("onnxruntime", "static-Add+MatMul"), ("openvino", "fp32"),
                   ("openvino", "openvino-dynamic"), ("openvino", "openvino-static"))


def render_runtimes(*results: Result) -> str:
    """Per CPU class, model and shape: each runtime's fp32 and int8 over ONNX Runtime fp32 (one-thread CPU
    time, medians of one run, unpaired) with F1, and the fastest of them: the plugin's own side-by-side
    rows (pytest_qbench/report/runtimes.py), laid out one row per shape."""
    parts = []
    for result in results:
        cases = [CaseResult.from_json(c) for c in gate_cases(result, (*CARD_TESTS, OPENVINO_TEST, SENTIMENT_TEST))]
        grouped: dict[tuple[str, str], dict[tuple[str, str], RuntimeRow]] = {}
        for row in runtime_rows(cases):
            grouped.setdefault((row.model, row.shape), {})[(row.runtime, row.variant)] = row
        rows, wins = [], []
        for (model, shape), cells in grouped.items():
            ort = cells.get((ORT, "fp32"))
            if ort is None or ("openvino", "fp32") not in cells:
                continue
            shown = {key: row for key, row in cells.items() if key in RUNTIME_COLUMNS}
            rows.append(
                [
                    f"`{model.rsplit('/', 1)[-1]}`",
                    shape.replace("-", " "),
                    f"{ort.cpu_ms:.2f} ms · {ort.f1:.4f}",
                    *(
                        f"x{shown[k].over_ort_fp32:.2f} · {shown[k].f1:.4f}" if k in shown else "–"
                        for k in RUNTIME_COLUMNS
                    ),
                ]
            )
            wins.append(max(shown.values(), key=lambda row: row.over_ort_fp32).runtime)
        env = result.data["artifact"]["environment"]
        tally = ", ".join(f"{runtime} at {wins.count(runtime)}" for runtime in dict.fromkeys(sorted(wins)))
        parts += [
            f"**{cpu(result.data['machine'])}** (onnxruntime {env['libraries'].get('onnxruntime')}, openvino"
            f" {env['libraries'].get('openvino')}, nncf {env['libraries'].get('nncf')})",
            "",
            table(["model", "shape", "onnxruntime fp32: ms · F1", *(f"{r} {v}" for r, v in RUNTIME_COLUMNS)], rows),
            "",
            f"- fastest int8 or fp32 over onnxruntime fp32, by shape: {tally} of {len(wins)}",
            "",
            _gate_footer(result),
            "",
        ]
    return "\n".join(parts).rstrip()


SPARSE_TEST = "test_sparse_int8"


def render_sparse(result: Result) -> str:
    """What sparsity buys: per runtime, variant and shape, the sparse models' int8 against the dense model's
    (one-thread CPU time per call, medians of one run, unpaired) and their F1."""
    cases = [c for c in result.data["artifact"]["cases"] if c.get("latency")]
    sparse = [c for c in cases if c["test"].split("::")[-1] == SPARSE_TEST]
    dense = {(c.get("runtime", ORT), c["id"]): c for c in gate_cases(result, (*CARD_TESTS, OPENVINO_TEST))}
    levels = sorted({c["original"]["weight_sparsity"] for c in sparse})
    rows = []
    for runtime, case_id in dict.fromkeys((c.get("runtime", ORT), c["id"]) for c in sparse):
        base = dense.get((runtime, case_id))
        if base is None:
            continue
        cells = [
            runtime,
            f"`{case_id}`",
            f"{base['latency']['cpu']['optimized_ms']:.2f} ms · {base['accuracy']['optimized']['f1']:.4f}",
        ]
        for level in levels:
            match = next(c for c in sparse if (c.get("runtime", ORT), c["id"]) == (runtime, case_id)
                         and c["original"]["weight_sparsity"] == level)
            ratio = base["latency"]["cpu"]["optimized_ms"] / match["latency"]["cpu"]["optimized_ms"]
            cells.append(
                f"x{ratio:.2f} · {match['accuracy']['optimized']['f1']:.4f} (fp32"
                f" {match['accuracy']['original']['f1']:.4f})"
            )
        rows.append(cells)
    decompression = sorted({c["sparse_decompression"] for c in sparse if c.get("sparse_decompression")})
    return "\n".join(
        [
            table(
                [
                    "runtime",
                    "case",
                    "dense int8: ms · F1",
                    *(f"{level:.0%} zero weights: speed vs dense · F1" for level in levels),
                ],
                rows,
            ),
            "",
            *(f"- OpenVINO sparse weight decompression: {d}" for d in decompression),
            "",
            _gate_footer(result),
        ]
    )


# ---- bench/saturation.py, bench/presets.py ---------------------------------------------------------------

DTYPES = {"int8": "s8", "uint8": "u8"}


def render_saturation(result: Result) -> str:
    """The remedies' F1 and wall-clock speedups; a result transcribed from an older file says where from."""
    data = result.data
    shapes = list(data["rows"][0]["wall_speedups"])
    rows = [[r["preset"], r["remedy"], DTYPES[r["weights"]] + (" 7-bit" if r["reduce_range"] else ""), f"{r['f1']:.4f}",
             *(ci(r["wall_speedups"][shape]) for shape in shapes)] for r in data["rows"]]
    header = ["preset", "remedy", "weights", f"F1 int8 (fp32 {data['fp32_f1']:.4f})",
              *(f"wall speedup {shape.replace('-', ' ')} (95% CI)" for shape in shapes)]
    saturates = "saturate" if data["saturates_u8s8"] else "do not saturate (VNNI)"
    source = data.get("transcribed_from")
    origin = (
        f" Transcribed from `{source['file']}` as committed in {source['commit'][:7]}: {source['note']}."
        if source
        else ""
    )
    return "\n".join([table(header, rows), "",
                      f"U8S8 kernels {saturates} on this CPU.{origin} "
                      + footer(run_of(data), script("saturation.py"), result.path)])


def render_presets(result: Result) -> str:
    """Per example model and approach: F1 (the task's) with each preset's build, all on this CPU's exact kernels."""
    models = result.data["models"]
    presets = list(dict.fromkeys(r["preset"] for m in models.values() for r in m["int8"]))
    kinds = {
        r["preset"]: f"{DTYPES[r['activations']]}{DTYPES[r['weights']]}".upper()
        for m in models.values()
        for r in m["int8"]
    }
    rows = []
    for name, model in models.items():
        for approach in dict.fromkeys(r["approach"] for r in model["int8"]):
            f1 = {r["preset"]: r["f1"] for r in model["int8"] if r["approach"] == approach}
            rows.append([name, approach, f"{model['fp32']['f1']:.4f}", *(f"{f1[p]:.4f}" for p in presets),
                         f"{max(f1.values()) - min(f1.values()):.4f}"])
    header = ["model", "int8 [Add, MatMul]", "fp32", *(f"`{p}` ({kinds[p]})" for p in presets), "largest gap"]
    return "\n".join([table(header, rows), "",
                      "F1: entity-level (seqeval) for the NER model, macro over the classes for the sentiment model;"
                      " the whole validation split. "
                      + footer(run_of(result.data), script("presets.py"), result.path)])


def render_preset_gap(result: Result) -> str:
    """Inline: the largest F1 gap between two presets' builds of one variant, over the example models."""
    gaps = [max(f1s) - min(f1s) for model in result.data["models"].values()
            for approach in ("dynamic", "static")
            if (f1s := [r["f1"] for r in model["int8"] if r["approach"] == approach])]
    return f"{max(gaps):.4f}"


# ---- bench/label_map_split.py (archived) -----------------------------------------------------------------------------

SPLIT_ROWS = {
    "unsplit": "as the model made them",
    "split, merged": "split, mapped back, parts merged",
    "split, not merged": "split, mapped back, `label_map_merge=False`",
}


def render_label_map_split(result: Result) -> str:
    """label_map on a schema that cuts names in two: the scores of the same predictions, as made and split."""
    rows = []
    for row in result.data["rows"]:
        scoring = "strict (IOB2)" if row["scoring"] == "strict" else row["scoring"]
        for name, label in SPLIT_ROWS.items():
            scores = row["scores"][name]
            bold = "**" if name == "split, merged" else ""
            rows.append([scoring, label, f"{bold}{scores['f1']:.4f}{bold}",
                         f"{bold}{scores['per_label_f1']['PER']:.4f}{bold}", f"{scores['accuracy']:.4f}"])
    default = result.data["rows"][0]
    return "\n".join([
        table(["scoring", "predictions", "F1", "PER F1", "word accuracy"], rows), "",
        f"{default['given_names']} predicted names, {default['surnames']} with a surname, {default['merges']} of them"
        f" joined to their given name (default scoring); {result.data['sentences']} sentences.",
        "", footer(run_of(result.data), archived(".venv/bin/python bench/label_map_split.py"), result.path),
    ])


# ---- bench/qa_gate.py: the question-answering example beside "Fast DistilBERT on CPUs" -----------------------

QA_INT8_TEST, QA_SPARSE_TEST, QA_BUDGET_TEST = (
    "test_squad_int8",
    "test_squad_sparse_int8",
    "test_squad_throughput_budget",
)
# As docs/reference/fast-distilbert-on-cpus.md gives them (the abstract); it names neither the CPU nor the F1/EM.
QA_PAPER = {
    "int8": "\"minimal accuracy loss\" of the sparse int8 model (figures not in docs/reference)",
    "sparsity": "the same (pruned, distilled, int8 together)",
    "budget": "up to x4.1 over ONNX Runtime (its own engine, sparse int8; CPU not in docs/reference)",
}


def _qa_cases(session: dict[str, Any], test: str) -> list[dict[str, Any]]:
    return [c for c in session["artifact"]["cases"]
            if c["test"].split("::")[-1] == test and c.get("accuracy", {}).get("optimized")]


def _qa_scores(accuracy: dict[str, Any]) -> str:
    return f"{100 * accuracy['f1']:.2f} · {100 * accuracy['accuracy']:.2f}"


def _qa_loss(before: dict[str, Any], after: dict[str, Any]) -> str:
    return f"{100 * (before['f1'] - after['f1']):+.2f} · {100 * (before['accuracy'] - after['accuracy']):+.2f}"


def _qa_row(case: dict[str, Any]) -> list[str]:
    original, optimized, cpu_time = case["accuracy"]["original"], case["accuracy"]["optimized"], case["latency"]["cpu"]
    speedup = cpu_time["speedup"]
    return [case["runtime"], case["approach"], str(case["batch_size"]), _qa_scores(original), _qa_scores(optimized),
            _qa_loss(original, optimized),
            f"{cpu_time['original_ms']:.1f} → {cpu_time['optimized_ms']:.1f} · x{speedup['value']:.2f}"
            f" [{speedup['ci_low']:.2f}, {speedup['ci_high']:.2f}] · {speedup['n_pairs']}",
            f"{optimized['seconds']:.0f}"]


def _qa_budget(session: dict[str, Any]) -> list[list[str]]:
    """Each runtime's fp32 and int8 throughput under the budget, over ONNX Runtime fp32's."""
    cases = {c["runtime"]: c["latency"]["budget"] for c in session["artifact"]["cases"]
             if c["test"].split("::")[-1] == QA_BUDGET_TEST and (c.get("latency") or {}).get("budget")}
    if not cases:
        return []
    ort = cases.get(ORT)
    base = ort and ort["original"]["best"]
    rows = []
    for runtime, budget in cases.items():
        for model in ("original", "optimized"):
            best = budget[model]["best"]
            over = f"x{best['throughput'] / base['throughput']:.2f}" if best and base else "–"
            shown = (f"{best['throughput']:.1f}/s at bs{best['batch_size']} × {best['streams']} streams, p90"
                     f" {best['p90_ms']:.0f} ms" if best else "none within the budget")
            rows.append([runtime, "fp32" if model == "original" else "int8 dynamic", shown, over,
                         str(sum(p["requests"] for p in budget[model]["points"]))])
    return rows


def render_qa(result: Result) -> str:
    """The QA example: int8 and sparsity losses (F1 · EM points), one-thread CPU time, the budget, the full dev set."""
    sessions = result.data["sessions"]
    artifact = sessions["dense"]["artifact"]
    dense = _qa_cases(sessions["dense"], QA_INT8_TEST)
    sparse = _qa_cases(sessions["sparse"], QA_SPARSE_TEST) if "sparse" in sessions else []
    questions = dense[0]["accuracy"]["original"]["num_samples"] if dense else 0
    header = ["runtime", "int8", "bs", "fp32 F1 · EM", "int8 F1 · EM", "lost F1 · EM (points)",
              "CPU ms/call fp32 → int8 · speedup [95% CI] · pairs", "evaluation s (int8)"]
    parts = [
        "**Side by side with the paper**",
        "",
        table(
            ["", "the paper (as published)", "this project (below)"],
            [
                ["F1/EM lost to int8", QA_PAPER["int8"], "dense model, tables below"],
                ["F1/EM lost to sparsity", QA_PAPER["sparsity"], "sparse fp32 against dense fp32, below"],
                ["throughput under a latency budget over ONNX Runtime fp32", QA_PAPER["budget"], "budget table below"],
            ],
        ),
        "",
    ]
    split = dense[0]["parameters"]["evaluation"]["split"] if dense else "?"
    parts += [
        f"**Dense model**, {questions} questions (split `{split}`)",
        "",
        table(header, [_qa_row(c) for c in dense]),
        "",
    ]
    if sparse:
        by_runtime = {c["runtime"]: c["accuracy"]["original"] for c in dense}
        lost = "; ".join(f"{c['runtime']} fp32: {_qa_loss(by_runtime[c['runtime']], c['accuracy']['original'])}"
                         for c in {c["runtime"]: c for c in sparse if c["runtime"] in by_runtime}.values())
        sparsity = sparse[0]["original"].get("weight_sparsity")
        parts += [f"**Sparse model** ({sparsity:.0%} zero weights), lost to sparsity F1 · EM (points): {lost}", "",
                  table(header, [_qa_row(c) for c in sparse]), ""]
    budget = _qa_budget(sessions["dense"])
    if budget:
        header = ["runtime", "model", "best throughput", "over ONNX Runtime fp32", "requests timed"]
        title = "**Throughput under a 100 ms p90 budget** (wall time, the machine's cores)"
        parts += [title, "", table(header, budget), ""]
    full = sessions.get("full_dev")
    if full:
        cases = _qa_cases(full, QA_INT8_TEST)
        fp32 = cases[0]["accuracy"]["original"] if cases else None
        rows = [["fp32", _qa_scores(fp32), f"{fp32['seconds']:.0f}"]] if fp32 else []
        rows += [[f"{c['runtime']} {c['approach']} int8 bs{c['batch_size']}", _qa_scores(optimized),
                  f"{optimized['seconds']:.0f}"] for c in cases for optimized in [c["accuracy"]["optimized"]]]
        parts += ["**The full dev set** (10,570 questions, once)", "",
                  table(["model", "F1 · EM", "evaluation s"], rows), ""]
    training = "; ".join(f"`{name}` {t['train_seconds']:.0f} s ({t['steps']} steps)"
                         for name, t in result.data["training"].items())
    env = artifact["environment"]
    libraries = f", onnxruntime {env['libraries'].get('onnxruntime')}, openvino {env['libraries'].get('openvino')}"
    parts += [f"Training: {training}. F1 and EM as the official v1.1 script scores them, in points; CPU time: one"
              " thread, medians per call, the pairs are the timed trials. "
              + footer(run_of(result.data), script("qa_gate.py"), result.path, libraries)]
    return "\n".join(parts)
