"""The README's block: the headline figures of several result files, one row each, naming CPU and date."""

from __future__ import annotations

from .benchmarks import NEW, pooled, step_name
from .common import Result, Run, cpu, run_of, span, table, verdict_counts, verdicts, wilson
from .results import CARD_TESTS, SENTIMENT_TEST, f1_of, gate_cases, speedups, variants

# ---- README: the headline figures of several result files ------------------------------------------------


def _where(run: Run) -> str:
    load = f", load {run.load_before[0]:.0f} → {run.load_after[0]:.0f}" if run.load_before and run.load_after else ""
    return f"{cpu(run.machine)}, {run.when[:10]}{load}"


def render_readme_summary(gate: Result, latency: Result, live: Result, diagnosis: Result, sharding: Result,
                          cold: Result) -> str:
    gate_run = run_of(gate.data)
    return table(["what", "figure", "CPU, date"], [
        _cold_row(cold), *_example_rows(gate, gate_run), _latency_row(latency), _live_row(live),
        _diagnosis_row(diagnosis), _sharding_row(sharding)])


def _cold_row(result: Result) -> list[str]:
    steps = result.data["steps"]
    each = ", ".join(f"{step_name(step['command'])} {step['seconds'] / 60:.1f}" for step in steps)
    total = sum(step["seconds"] for step in steps) / 60
    return ["a new user's first `make demo`, install excluded: the example models fine-tuned, the variants built,"
            " the gate run", f"{total:.1f} min: {each} (docs/BENCHMARKS.md §3b)", _where(run_of(result.data))]


def _example_rows(gate: Result, run: Run) -> list[list[str]]:
    cases = gate.data["artifact"]["cases"]
    card = variants(gate_cases(gate, CARD_TESTS))
    matmul = [(approach, group) for (approach, ops), group in card.items() if ops == "Add+MatMul"]
    gains = ", ".join(f"{approach} {speedups(group, 'cpu')}" for approach, group in matmul)
    f1 = " / ".join(f"{f1_of(group[0], 'optimized'):.4f}" for _, group in matmul)
    sentiment = variants(gate_cases(gate, (SENTIMENT_TEST,)))
    macro = " / ".join(f"{f1_of(group[0], 'optimized'):.4f}" for group in sentiment.values())
    sentiment_fp32 = f1_of(next(iter(sentiment.values()))[0], "original")
    training = "; ".join(
        f"{name.rsplit('-', 1)[0]} {t['train_seconds']:.0f} s ({t['epochs']} epoch{'s' if t['epochs'] > 1 else ''})"
        for name, t in gate.data["training"].items()
    )
    where = _where(run)
    return [
        [
            'the example gate, `pytest --qbench examples -k "not hub" --qbench-update-baselines`, models and builds'
            ' cached',
            f"{run.minutes:.1f} min, {len(cases)} cases: {verdicts(verdict_counts(cases))}",
            where,
        ],
        [
            "int8 [Add, MatMul] of the reference matrix over fp32, one-thread CPU time, 9 shapes",
            f"{gains}; F1 {f1_of(matmul[0][1][0], 'original'):.4f} → {f1} ({' / '.join(a for a, _ in matmul)})",
            where,
        ],
        [
            "the text-classification example: macro-F1 fp32 → " + " / ".join(a for a, _ in sentiment),
            f"{sentiment_fp32:.4f} → {macro}",
            where,
        ],
        ["fine-tuning the example models (first `make demo` only)", training, f"{cpu(run.machine)}, before the gate"],
    ]


def _latency_row(result: Result) -> list[str]:
    data = result.data
    new = [r for r in data["summary"] if r["signal"] == NEW]
    run = Run(data["started"], None, data["machine"], None, None)
    return ["latency gate, one case per process, idle / beside a CPU-bound / beside a bursty neighbour: false alarms,"
            " a 10% slowdown caught", f"{pooled(new, 'A/A')} A/A cases; {pooled(new, '+10%')} (docs/BENCHMARKS.md §1)",
            _where(run)]


def _live_row(result: Result) -> list[str]:
    data = result.data
    aa, slow = data["summary"]["aa"], data["summary"]["slow"]
    rates = (aa["red_lenient"], aa["red_strict"], slow["target_caught"])
    red, strict, caught = (wilson(r["hits"], r["n"]) for r in rates)
    return [f"whole example gate runs of {data['cases']} ONNX Runtime cases, each its own pytest process, against"
            f" baselines of {len(data['baseline_runs'])} runs: red without a change (lenient / strict), one case +10%"
            " caught", f"{red} / {strict}; {caught} (docs/BENCHMARKS.md §1c)", _where(run_of(data))]


def _diagnosis_row(result: Result) -> list[str]:
    runs = {r["label"]: r for r in result.data["runs"]}
    return ["diagnosis / repair of the example's static collapse (`--qbench-repair -k collapse`)",
            f"{span([r['diagnosis_seconds'] for r in runs.values()], 0)} s / {runs['cold']['repair_seconds']:.0f} s"
            f" cold, {runs['warm']['repair_seconds']:.0f} s with the candidates cached; {runs['cold']['evaluations']}"
            " evaluations (docs/BENCHMARKS.md §5)", _where(run_of(result.data))]


def _sharding_row(result: Result) -> list[str]:
    series = result.data["series"]
    shards = "; ".join(
        f"{count} shard{'s' if count != '1' else ''}: " + " + ".join(f"{s['seconds'] / 60:.1f}" for s in group) + " min"
        for count, group in series.items()
    )
    return ["shards of the reference matrix and its collapse (builds cached), one after another",
            f"{shards} (docs/SCALING.md)", _where(run_of(result.data["info"]))]
