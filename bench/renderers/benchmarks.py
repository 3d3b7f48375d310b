"""The blocks of docs/BENCHMARKS.md and docs/SCALING.md: bench/measurement.py, bench/diagnosis_cost.py,
bench/sharding.py, bench/variance.py, bench/live_gate.py, bench/slow_looks.py, bench/cpu_time_rule.py, and the
finished studies whose scripts were archived (bench/ARCHIVE.md: int8_gate, calibration_reuse, gate_replay,
sessions, gate_tails, gate_targets; the fp32-copy study of bench/latency_gate.py as of 5811f38)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

from .common import Result, Run, archived, footer, pct, rerun, run_of, script, span, table, verdicts, wilson

# ---- bench/latency_gate.py as of 5811f38: the fp32-copy study -------------------------------------------------------

NEW, OLD, ABSOLUTE = (
    "new: cpu time, 1 thread, HL",
    "old: wall, all cores, ratio of means",
    "new: optimized cpu ms (absolute)",
)


def render_latency_gate(result: Result) -> str:
    data = result.data
    header = ["load", "signal", "per-pair σ (log)", "run-to-run σ (log)", "A/A false alarms", "A/A inconclusive",
              "+10% caught", "+25% caught", "realized +10% / +25%", "idle baseline, this load: false alarms",
              "s per run"]
    rows = [[r["condition"], r["signal"], "–" if r["signal"] == ABSOLUTE else f"{r['pair_sigma']:.3f}",
             f"{r['run_sigma']:.3f}", _rate(r["A/A"]), r["A/A inconclusive"], _rate(r["+10%"]), _rate(r["+25%"]),
             f"{r['+10% realized']:+.1%} / {r['+25% realized']:+.1%}", _rate(r.get("vs idle baseline", {})),
             f"{r['seconds']:.1f}"] for r in data["summary"]]
    costs = ", ".join(
        f"{arm}: {c['tokens']} extra tokens, {c['cost']:+.1%} cpu" for arm, c in data["calibration"].items()
    )
    machine = data["machine"]
    run = Run(data["started"], data["seconds"] / 60, machine, [float(x) for x in data["load_before"].split("/")], None)
    return "\n".join([
        table(header, rows), "",
        *_gate_summary(data), "",
        f"Shape {data['shape']}; candidate calibration ({costs}). Rates with Wilson 95% intervals; \"caught\" = the"
        " check failed. The absolute row is the optimized model's CPU time per call against cpu_time_rtol"
        f" {data['tolerances']['cpu_time_rtol']:g}: its +10%/+25% columns count slowdowns it caught on its own. "
        + footer(run, f"git checkout 5811f38 && .venv/bin/python {data['command'].strip()} (the study's script and the"
                      " policy of that time)", result.path,
                 f", {machine['threads']} threads for the wall clock"),
    ])


def _gate_summary(data: dict[str, Any]) -> list[str]:
    by_signal = {signal: [r for r in data["summary"] if r["signal"] == signal] for signal in (NEW, OLD, ABSOLUTE)}
    new, old = by_signal[NEW], by_signal[OLD]

    runs = [r["design"] for r in data["runs"]]
    inconclusive = sum(r[f"{arm} inconclusive"] for r in new for arm in ("A/A", "+10%", "+25%"))
    cost = {arm: f"{c['cost']:+.1%}" for arm, c in data["calibration"].items()}
    return [
        f"- {runs.count('new')} runs of the new design, {runs.count('old')} of the old, in one run of"
        f" {data['seconds'] / 60:.0f} min.",
        f"- The new gate false-alarmed in {pooled(new, 'A/A')} A/A runs and in {pooled(new, 'vs idle baseline')} runs"
        f" gated on a loaded machine against an idle baseline; it caught the +10% candidate ({cost['+10%']} CPU time)"
        f" in {pooled(new, '+10%')} runs and the +25% one ({cost['+25%']}) in {pooled(new, '+25%')}, with"
        f" {inconclusive} inconclusive, in {span([r['seconds'] for r in new], 1)} s per run.",
        f"- Per-pair σ of the log-ratio: {span([r['pair_sigma'] for r in new], 3)} on one-thread CPU time,"
        f" {span([r['pair_sigma'] for r in old], 3)} on the old design's wall clock. Run-to-run σ: the speedup"
        f" {span([r['run_sigma'] for r in new], 3)}, the optimized model's CPU time per call"
        f" {span([r['run_sigma'] for r in by_signal[ABSOLUTE]], 3)}.",
        f"- The old design caught the +10% candidate in {pooled(old, '+10%')} runs, the +25% one in"
        f" {pooled(old, '+25%')}.",
    ]


def pooled(rows: list[dict[str, Any]], column: str) -> str:
    """A rate summed over the rows (the loads) of one signal, with its Wilson interval."""
    return wilson(sum(r[column]["hits"] for r in rows), sum(r[column]["n"] for r in rows))


def _rate(r: dict[str, float]) -> str:
    return wilson(r["hits"], r["n"]) if r and r["n"] else "–"


# ---- bench/measurement.py: one result file holds one or more experiments --------------------------------------------


def _experiment(result: Result, name: str) -> tuple[dict[str, Any], Run]:
    data = result.data
    experiment = data["experiments"][name]
    return experiment, Run(experiment["started"], experiment["seconds"] / 60, data["machine"],
                           experiment["load_before"], experiment["load_after"], data.get("beside", ""))


def _threads(result: Result) -> str:
    return f", {result.data['machine']['threads']} threads"


def render_overhead(result: Result) -> str:
    experiment, run = _experiment(result, "overhead")
    shapes = experiment["shapes"]
    rows = [[s["shape"], len(s["rounds"]), f"{s['bare_ms_median']:.3f}", f"{s['harness_ms_median']:.3f}",
             pct(s["overhead_median"]), f"{pct(s['overhead_min'])} to {pct(s['overhead_max'])}"] for s in shapes]
    header = ["shape", "rounds", "bare loop, ms (median)", "harness, ms (median)", "overhead (median)", "range"]
    ratios = ", ".join(f"{pct(s['harness_ms_median'] / s['bare_ms_median'] - 1)} ({s['shape']})" for s in shapes)
    t = result.data["timing"]
    budget = (f"{_threads(result)}. Wall-clock phase: min {t['wall_iterations']} calls and {t['wall_seconds']:g} s per"
              f" model; CPU phase: min {t['min_pairs']} pairs and {t['min_seconds']:g} s, max {t['max_seconds']:g} s")
    return "\n".join([
        "### 2. Harness overhead vs a bare `InferenceSession.run` loop", "", table(header, rows), "",
        f"- The ratio of the medians (harness over bare loop): {ratios}.", "",
        footer(run, experiment["command"], result.path, budget),
    ])


def render_matrix(result: Result) -> str:
    experiment, run = _experiment(result, "matrix")
    rows = [[r["label"], experiment["mode"], f"{r['wall_seconds'] / 60:.1f} min", r["cases"],
             ", ".join(f"{v} {k}" for k, v in sorted(r["verdicts"].items())), f"{r['latency_seconds']:.0f} s",
             f"{r['stopped_on_ci_width']}/{r['cases']}", r["exit_code"]] for r in experiment["runs"]]
    header = ["build cache", "mode", "wall time", "cases", "verdicts", "in latency timing", "stopped on CI width",
              "exit code"]
    return "\n".join([
        "### 3. Time to verdict: the reference matrix", "", table(header, rows), "",
        "- the session: `pytest --qbench examples -k 'not hub'`, on the build cache the column names", "",
        footer(run, experiment["command"], result.path, _threads(result)),
    ])


def render_accuracy(result: Result) -> str:
    experiment, run = _experiment(result, "accuracy")
    rows = [[r["model"], r["sentences"], f"{r['seconds']:.1f}", f"{r['sentences_per_s']:.0f}", f"{r['f1']:.4f}"]
            for r in experiment["runs"]]
    header = ["model", "sentences", "seconds", "sentences/s", "F1"]
    return "\n".join([
        "### 4. Accuracy evaluation throughput (validation split)", "", table(header, rows), "",
        footer(run, experiment["command"], result.path, _threads(result)),
    ])


# ---- bench/diagnosis_cost.py, bench/calibration_reuse.py (archived), bench/sharding.py ------------------------------


def render_diagnosis(result: Result) -> str:
    runs = result.data["runs"]
    rows = [[r["label"], f"{r['diagnosis_seconds']:.0f} s", f"{r['repair_seconds']:.0f} s",
             f"{r['evaluations']} ({', '.join(f'{n} {s}' for s, n in r['by_split'].items())})",
             "yes" if r["budget_spent"] else "no", f"{r['session_seconds'] / 60:.1f} min", r["exit_code"]]
            for r in runs]
    case = runs[0]["case"]
    diagnosis, repair, accuracy = case["diagnosis"], case["diagnosis"]["repair"], case["accuracy"]
    return "\n".join([
        "### 5. Diagnosis and repair of the static collapse", "",
        table(["build cache", "diagnosis", "repair", "evaluations", "cap reached", "whole session", "exit code"], rows),
        "",
        f"- case: `{case['nodeid']}` (F1 {accuracy['original']['f1']:.4f} -> {accuracy['optimized']['f1']:.4f});"
        f" diagnosis on {diagnosis['sentences']} sentences in {diagnosis['batches']} padded batches, pre-flight and"
        f" search on {diagnosis['preflight']['samples']} sentences, confirmation on the whole split",
        f"- found: {repair_found(repair)}",
        "- an evaluation builds one candidate (static: calibration + quantization, ~5 s cold) and scores it on"
        " the sample (~2 s) or the whole split (~8 s); warm, the builds come from the cache",
        "",
        footer(run_of(result.data), script("diagnosis_cost.py"), result.path),
    ])


def repair_found(repair: dict[str, Any]) -> str:
    """What a repair search found: the exclusion, the F1 against its target, the speedup it keeps."""
    return (
        f"`{'`, `'.join(repair['exclusion']['families'])}` + {len(repair['exclusion']['nodes'])} nodes, F1"
        f" {repair['f1']:.4f} on the whole split (target {repair['target_f1']:.4f}), cpu speedup"
        f" x{repair['speedup']:.2f}"
    )


def render_calibration(result: Result) -> str:
    builds = result.data["builds"]
    anew, cached = (statistics.median(builds[arm]) for arm in ("calibrated anew", "cached ranges"))
    rows = [[arm, len(times), f"{statistics.median(times):.1f} s", f"{min(times):.1f}–{max(times):.1f} s"]
            for arm, times in builds.items()]
    return "\n".join([
        "### 6. Static calibration reused across exclusions", "",
        table(["static build of a new variant", "builds", "median", "range"], rows), "",
        f"- cached ranges / calibrated anew: x{cached / anew:.2f} of the build time per candidate (medians); a"
        " repair's static candidates after the first take the cached ranges, which give byte-identical"
        " variants (tests/unit/test_variants.py)",
        "- example model, static [Add, MatMul] at optimization level 0 (the collapse), minmax on 100 train"
        " sentences of 128 tokens; each build keeps a different set of Adds in fp32; the arms alternate",
        "- §5's repair was measured before the ranges were cached: each of its static candidates calibrated"
        " anew",
        "",
        footer(run_of(result.data), archived(script("calibration_reuse.py")), result.path),
    ])


def render_sharding(result: Result) -> str:
    series = result.data["series"]
    slowest = {count: max(s["seconds"] for s in shards) / 60 for count, shards in series.items()}
    total = {count: sum(s["seconds"] for s in shards) / 60 for count, shards in series.items()}
    rows = [[count, " / ".join(f"{s['cases']}" for s in shards), " / ".join(f"{s['variants']}" for s in shards),
             " / ".join(f"{s['seconds'] / 60:.1f}" for s in shards), f"{total[count]:.1f}", f"{slowest[count]:.1f}",
             " / ".join(str(s["exit_code"]) for s in shards)] for count, shards in series.items()]
    one = slowest["1"]
    parts = ["### Shards of the reference matrix, run one after another", "",
             table(["shards", "cases per shard", "variants per shard", "minutes per shard", "sum, min",
                    "N parallel jobs: slowest shard, min", "exit codes"], rows), "",
             "- N parallel jobs: " + ", ".join(f"{c} shard{'s' if c != '1' else ''} {slowest[c]:.1f} min"
                                               + ("" if c == "1" else f" (x{one / slowest[c]:.1f})") for c in series),
             "- machine-minutes: " + " → ".join(f"{total[c]:.1f}" for c in series)]
    split = [s for s in result.data["pytest_split"] if s]
    if split:
        parts += [
            "",
            "### pytest-split on the same cases and durations",
            "",
            table(
                ["splits", "cases per group", "expected seconds per group", "variants on > 1 group", "builds repeated"],
                [
                    [
                        s["count"],
                        " / ".join(map(str, s["cases"])),
                        " / ".join(f"{x:.0f}" for x in s["loads"]),
                        f"{s['split_variants']} of {s['variants']}",
                        s["extra_builds"],
                    ]
                    for s in split
                ],
            ),
        ]
    parts += ["", footer(run_of(result.data["info"]), script("sharding.py"), result.path, ", build cache warm")]
    return "\n".join(parts)


# ---- bench/variance.py: where the gated figures vary ----------------------------------------------------------------

FIGURE_NAMES = {"speedup": "cpu speedup", "optimized_ms": "int8 cpu ms/call", "original_ms": "fp32 cpu ms/call"}


def _sd(part: list[float] | None) -> str:
    if part is None:
        return "–"
    value, low, high = part
    return f"{value:.2%} ({low:.2%}–{high:.2%})"


def render_variance(result: Result) -> str:
    """Per host and figure, the standard deviations of the random-effects model; then the offsets between hosts of
    one key."""
    data = result.data
    header = ["figure", "host: CPU model, key (source)", "runs", "own interval (median se)", "repeat, same process",
              "new process, all cases", "new process, one case", "tau: run to run beyond the interval"]
    rows = []
    for figure, found in data["figures"].items():
        for h in found["hosts"]:
            d, c = h["design"], h["components"]
            rows.append([FIGURE_NAMES[figure], f"{h['cpu_model']}, `{h['key']}` ({h['source']})",
                         f"{d['processes']} x {d['repeats']} x {d['cases']} cases",
                         "–" if c["within"] is None else f"{c['within']:.2%}", _sd(c["repeat"]), _sd(c["process"]),
                         _sd(c["interaction"]), _sd(c["tau"])])
    offsets = [[FIGURE_NAMES[figure], o["a"], o["b"], "yes" if o["same_cpu_model"] else "no", o["cases"],
                f"{math.exp(o['median']):.3f}", f"{o['sd']:.3f}", f"{math.exp(o['low']):.3f}–{math.exp(o['high']):.3f}"]
               for figure, found in data["figures"].items() for o in found["offsets"]]
    hosts = sorted({(h["cpu_model"], h["key"]) for found in data["figures"].values() for h in found["hosts"]})
    return "\n".join([
        "### 7. Where the gated figures vary: within a run, between processes, hosts and CPU models", "",
        table(header, rows), "",
        f"Standard deviations on the log scale (0.01 ≈ 1%), each with a 95% interval from a parametric bootstrap of its"
        f" host's design; {len(hosts)} CPU models with more than one run ({', '.join(m for m, _ in hosts)}); pairs of"
        " records of one CPU model are the rows marked \"same CPU model\" below. Records: "
        + ", ".join(f"`{r}`" for r in data["records"]) + ".", "",
        *_between_vms(data),
        "Between hosts of one key, per case common to both (b / a of their mean figures):", "",
        table(["figure", "host a", "host b", "same CPU model", "cases", "median", "sd across cases (log)", "range"],
              offsets), "",
        footer(run_of(data), ".venv/bin/python bench/variance.py", result.path),
    ])


def _between_vms(data: dict[str, Any]) -> list[str]:
    """The VMs of one CPU model together: the host shift (a new VM, all cases alike) and what a VM adds per case."""
    fits = [(figure, fit) for figure, found in data["figures"].items() for fit in found["vms"]]
    if not fits:
        return []
    header = ["figure", "CPU model, key (source)", "VMs: runs each x cases", "own interval (median se)",
              "new process, all cases", "new process, one case", "host shift: new VM, all cases", "new VM, one case",
              "tau: a case on a fresh VM, beyond the interval"]
    rows = [[FIGURE_NAMES[figure], f"{f['cpu_model']}, `{f['key']}` ({f['source']})",
             f"{len(f['vms'])}: {' + '.join(str(n) for n in f['design']['runs'])} runs x {f['design']['cases']} cases",
             "–" if (c := f["components"])["within"] is None else f"{c['within']:.2%}", _sd(c["process"]),
             _sd(c["interaction"]), _sd(c["vm"]), _sd(c["vm_case"]), _sd(c["tau"])] for figure, f in fits]
    records = sorted({"`" + " + ".join(group) + "`" for _, f in fits for group in f["vms"]})
    return [
        "Between VMs of one CPU model: every run of its VMs in one model, a case's log figure = its mean + the VM's"
        " shift, common to all its cases (the host shift) + the VM's own part for that case + a process's shift"
        " common to its cases + the process's part for that case + the run's own error. Method of moments; 95%"
        " intervals of the four parts by inverting a parametric bootstrap of the design (the sigmas under which the"
        " estimate falls within the central 95% of the estimates the design gives, the other parts at theirs); tau's"
        " span: each part at either end of its interval, the others at their estimates, the widest. The VMs: "
        + ", ".join(records) + ":", "",
        table(header, rows), "",
    ]


# ---- bench/gate_replay.py (archived): the gate across fresh VMs -----------------------------------------------------


def render_gate_replay(result: Result) -> str:
    data = result.data
    replay = [[r["record"], r["cpu_model"], f"{r['gated']} against {r['baseline']}", r["fail"], r["inconclusive"],
               r["pass"]] for r in data["replay"]]
    sim = [[r["target_ci_width"] or "today's 0.05", r["baseline_runs"], "yes" if r["confirm"] else "no",
            f"{r['false_alarm_runs']:.1%}", f"{r['caught_10']:.1%}",
            "–" if r["smallest_caught_90"] is None else f"{r['smallest_caught_90']:g}%"] for r in data["simulation"]]
    c = data["components"]
    return "\n".join(
        [
            "### 8. The gate across fresh VMs: recorded runs replayed, gate runs simulated",
            "",
            "Replayed: each recorded gate run judged against the one before it on the same host (one run, the prior's"
            " between-run sigma; all its cases one family):",
            "",
            table(["record", "CPU model", "runs", "fail", "inconclusive", "pass"], replay),
            "",
            f"Simulated: {data['trials']} gate runs of the example's {data['cases']} cases per row, each on a fresh VM:"
            f" the true speedups and each case's own standard error as recorded; per run a shift common to all cases"
            f" (sigma {c['process']:.2%}), per case one of {math.hypot(c['interaction'], c['repeat']):.2%} (both"
            " measured,"
            f" §7) and a host shift of {data['host_sigma']:.2%} (not measured: the between-process tau again);"
            " baselines of"
            " N runs on their own VMs; the between-run sigma pooled from them and shrunk to the prior; rtol"
            f" {data['rtol']:g},"
            f' {data["alpha"]:.0%} false alarms per run allowed. "Confirm": every case that fails or is inconclusive is'
            " measured again on another VM and judged on the two runs combined.",
            "",
            table(
                [
                    "timing precision (CI width)",
                    "baseline runs N",
                    "confirm",
                    "false alarms per gate run",
                    "10% slowdown of one case caught",
                    "smallest slowdown caught 90%",
                ],
                sim,
            ),
            "",
            footer(run_of(data), archived(".venv/bin/python bench/gate_replay.py"), result.path),
        ]
    )


# ---- bench/int8_gate.py (archived): the gate on a real int8 slowdown ------------------------------------------------


def render_int8_gate(result: Result) -> str:
    data = result.data
    rows = [[r["condition"], r["arm"], f"{r['realized']:+.1%}", wilson(r["fail"], r["runs"]), r["inconclusive"],
             r["pass"], f"{r['tau']:.2%}", f"{r['seconds']:.1f}"] for r in data["summary"]]
    cal = ", ".join(
        f"{arm}: {c['columns']} extra int8 columns, {c['cost']:+.1%} cpu" for arm, c in data["calibration"].items()
    )
    return "\n".join(
        [
            "### 1. The gate on a real int8 slowdown, a fresh process per run",
            "",
            table(
                [
                    "load",
                    "candidate",
                    "realized slowdown",
                    "failed (Wilson 95%)",
                    "inconclusive",
                    "passed",
                    "run-to-run tau (A/A, beyond own CI)",
                    "s per run, process included",
                ],
                rows,
            ),
            "",
            f"Shape {data['shape']}; the example model's dynamic int8 [Add, MatMul] variant against fp32, slowed on its"
            f" int8 path ({cal}). Each run judged as one case of a {data['family']}-case gate run against the last"
            f" {data['baseline_runs']} unslowed runs of its condition. "
            + footer(
                run_of(data), archived(f'.venv/bin/python {data["command"]} --beside "what else runs"'), result.path
            ),
        ]
    )


# ---- bench/live_gate.py: whole gate runs, counted red ---------------------------------------------------------------

ARM_NAMES = {"aa": "A/A", "slow": "one case +10%"}


def _run_checks_failed(runs: list[dict[str, Any]]) -> str:
    """Which of the run's own checks failed, in how many runs of each arm (records from bench/live_gate.py that keep
    them)."""
    kept = [r for r in runs if "run_checks" in r]
    if not kept:
        return ""
    failed = Counter((ARM_NAMES[r["arm"]], metric) for r in kept for metric, status in r["run_checks"].items()
                     if status == "fail")
    counts = [f"`{metric}` in {n} {arm} run(s)" for (arm, metric), n in sorted(failed.items())]
    return f" The run's own checks failed: {'; '.join(counts) or 'in no run'} (of {len(kept)} runs that record them)."


def render_live_gate(result: Result) -> str:
    """Per arm: red runs lenient and strict, the slowed case caught; then the cases that went red without a change."""
    data = result.data
    rows = [[ARM_NAMES[arm], s["runs"], _rate(s["red_lenient"]), _rate(s["red_strict"]),
             _rate(s["target_caught"]) if arm == "slow" else "–", s["target_inconclusive"] if arm == "slow" else "–",
             f"{s['confirmed_per_run']:.1f}", f"{s['seconds_median'] / 60:.1f}"] for arm, s in data["summary"].items()]
    red: dict[str, int] = {}
    for run in (r for r in data["runs"] if r["arm"] == "aa"):
        for name in run["flagged"]:
            red[name] = red.get(name, 0) + 1
    cases = "; ".join(f"`{name}` {count}" for name, count in sorted(red.items(), key=lambda x: (-x[1], x[0]))) or "none"
    cal = data["calibration"]
    slowed = (
        f" The slowed case: `{data['target']}`, {cal['columns']} extra int8 columns, {cal['cost']:+.1%} one-thread"
        " CPU time."
        if cal
        else ""
    )
    done, planned = len(data["runs"]), data.get("planned_runs", len(data["runs"]))
    stopped = f" The study stopped after {done} of its {planned} planned gate runs." if done < planned else ""
    slow = data.get("excursions")
    drops = ", ".join(f"{math.expm1(d):+.1%}" for d in slow["drops"]) if slow else ""
    sessions = (
        f" Slow sessions: first looks of the unslowed cases more than {slow['threshold']:.0%} below their case's"
        f" median over the study's runs, {wilson(len(slow['drops']), slow['case_runs'])} case-runs ({drops or 'none'})."
        if slow
        else ""
    )
    hosts = sorted({run["host"] for run in data["runs"] if "host" in run})
    sittings = data.get("sessions", [])
    spread = (
        f" The runs span {len(sittings)} sessions on {len(hosts)} VM{'s' if len(hosts) > 1 else ''} of this class"
        f" (boot hash{'es' if len(hosts) > 1 else ''}"
        f" {', '.join(hosts)}; the baselines recorded on {recorded_on(data['baseline_runs'])});"
        " the footer's load and time are the last session's."
        if len(sittings) > 1
        else ""
    )
    return "\n".join(
        [
            table(
                [
                    "runs",
                    "n",
                    "red: failed or exit ≠ 0 (Wilson 95%)",
                    "red: also inconclusive",
                    "slowed case caught",
                    "slowed case inconclusive",
                    "cases confirmed in-run per run",
                    "min per run (median)",
                ],
                rows,
            ),
            "",
            f'Each run `pytest --qbench examples -k "{data["select"]}"`, its own process, against'
            f" {baselines_of(data)}.{slowed}{stopped}{spread}{sessions}"
            f" A/A cases flagged (failed or inconclusive), runs per case: {cases}.{_run_checks_failed(data['runs'])} "
            + footer(run_of(data), rerun(data), result.path),
        ]
    )


def baselines_of(data: dict[str, Any]) -> str:
    """What a live study's gate runs were judged against: its own update runs, or another study's baselines."""
    runs = data["baseline_runs"]
    learning = " (each run learning from the history committed beside the study)" if data.get("history") else ""
    if isinstance(runs, str):  # bench/live_gate.py --baselines-from
        return f"the baselines of {runs.removeprefix('those of ')}{learning}"
    return f"baselines of {len(runs)} update runs made by this study{learning}"


def recorded_on(runs: list[dict[str, Any]] | str) -> str:
    return "another study's VM" if isinstance(runs, str) else runs[0].get("host", "the first")


def step_name(command: str) -> str:
    """"`examples/conll_model.py`" or "`pytest --qbench examples`": a step of `make demo` by what it runs."""
    words = command.split()
    if "pytest" in words:
        return "`pytest " + " ".join(words[words.index("pytest") + 1:][:2]) + "`"
    return f"`{next(w for w in words if w.endswith('.py'))}`"


def _model_line(name: str, record: dict[str, Any]) -> str:
    scores = record.get("validation", {})
    score = next((f"{k} {scores[k]:.4f}" for k in ("f1", "macro_f1") if k in scores), "")
    bf16 = ", bf16 autocast" if record.get("bf16_autocast") else ""
    return f"{name} {record['train_seconds']:.0f} s ({record['steps']} steps{bf16}; {score})"


def render_cold_demo(*records: Result) -> str:
    """Per CPU class: `make demo`'s steps from empty model and build caches, their minutes and the total."""
    parts = []
    for result in records:
        data = result.data
        steps = data["steps"]
        rows = [[step_name(step["command"]), f"{step['seconds'] / 60:.1f}", step["exit_code"]] for step in steps]
        total = sum(step["seconds"] for step in steps) / 60
        gate = data["gate"]
        ran = (f"{gate['cases']} cases ({verdicts(gate['verdicts'])}), their own seconds"
               f" {gate['case_seconds'] / 60:.1f} min of its step" if gate else "no artifact")
        models = "; ".join(_model_line(name, record) for name, record in data["models"].items()) or "none"
        parts += [
            table(["step", "min", "exit"], [*rows, ["**total**", f"**{total:.1f}**", ""]]),
            "",
            f"Models trained: {models}. The gate: {ran}. "
            + footer(run_of(data), rerun(data), result.path),
            "",
        ]
    return "\n".join(parts[:-1])


def render_warm_gate(result: Result) -> str:
    """Per gate run in its A B B A order: the commit, wall seconds, the cases' seconds, exit and verdicts;
    then after / before per round and per case."""
    data = result.data
    revs, s = data["revisions"], data["summary"]
    rows = [[i + 1, f"{run['side']} (`{revs[run['side']]}`)", f"{run['seconds']:.0f}",
             f"{sum(run['cases'].values()):.0f}", len(run["cases"]), run["exit_code"],
             verdicts(run["verdicts"])]
            for i, run in enumerate(r for r in data["runs"] if not r["update"])]
    ratio = s["case_ratio"]
    phases = s.get("phase_seconds_median") or {}
    rounds = s.get("round_ratio")
    over_rounds = (f" (geometric mean x{rounds['geomean']:.3f}, 95% t-interval"
                   f" {rounds['low']:.3f}–{rounds['high']:.3f})" if rounds else "")
    clean = s.get("unconfirmed_case_ratio")
    per_run = s.get("confirmed_per_run", {})
    confirmed = (f" A case failing or inconclusive at first look is measured again in fresh processes: confirmations"
                 f" per run {per_run['before']:.1f} before, {per_run['after']:.1f} after; over"
                 f" the runs that did not confirm it, per case x{clean['geomean']:.3f} ({clean['low']:.3f}–"
                 f"{clean['high']:.3f}, {clean['cases']} cases)." if clean else "")
    where = (" Where a run's time goes (medians, before -> after; pytest's `--durations`): " + ", ".join(
        f"{phase} {both['before']:.1f} -> {both['after']:.1f} s" for phase, both in phases.items())
        + " (rest: the process outside the tests: start, imports, collection, reports)." if phases else "")
    return "\n".join([
        table(["gate run", "commit", "wall s", "cases' s", "cases", "exit", "verdicts"], rows),
        "",
        f"Each run `pytest --qbench examples -k \"{data['select']}\"`, its own process, warm (each commit's update run"
        f" before, untimed, built its variants and recorded its baselines). After / before: wall"
        f" {s['wall_median']['after']:.0f} s against {s['wall_median']['before']:.0f} s (medians), per round"
        f" {', '.join(f'x{r:.3f}' for r in s['per_round'])}{over_rounds}; per case (mean seconds of each side),"
        " geometric mean"
        f" x{ratio['geomean']:.3f} (95% t-interval over {s['cases']} cases {ratio['low']:.3f}–{ratio['high']:.3f})."
        f"{confirmed}{where} "
        + footer(run_of(data), rerun(data), result.path),
    ])


# ---- bench/slow_periods.py: how long a slow speedup lasts, and what moves with it -----------------------------------


def render_slow_periods(result: Result) -> str:
    """Per case: looks, excursions, sd; then, by the time since a slow look, how often the case is slow still."""
    data = result.data
    s, threshold = data["summary"], data["excursion"]
    cases = [[f"`{name}`", c["looks"], _rate(c["excursions"]), f"{c['sd']:.1%}", f"{c['fp32_slope']:.2f}",
              f"{c['fp32_correlation']:.2f}", f"{c['sd_adjusted']:.1%}", c["excursions_adjusted"]]
             for name, c in s["per_case"].items()]
    lags = [[f"{row['from_s'] / 60:g}–{row['to_s'] / 60:g} min" if row["to_s"] else f"{row['from_s'] / 60:g} min on",
             _rate(row["still_slow"]) if row["still_slow"] else "–",
             pct(math.expm1(row["median_residual"])) if row["median_residual"] is not None else "–"]
            for row in s["persistence"]]
    slow = s["slow_looks"]
    def moves(key: str) -> str:
        changes = [math.expm1(x[key]) for x in slow]
        return f"{statistics.median(changes):+.0%} (median; {min(changes):+.0%} to {max(changes):+.0%})"

    moved = (f" In the slow looks the int8 model's CPU time per call moved {moves('optimized_ms')}"
             f" and the fp32 model's {moves('original_ms')} against their"
             f" medians; {s['processes_with_excursion']} processes had a slow look,"
             f" {s['processes_with_several']} of them more than one case slow." if slow else "")
    processes = data["processes"]
    held_out = "; ".join(f"`{name}` {c['out_of_sample']['before']} -> {c['out_of_sample']['after']}"
                         for name, c in s["per_case"].items() if "out_of_sample" in c)
    held_out = (f" Out of sample (the slope learned on one half of the looks, applied to the other, both ways), the"
                f" looks more than {threshold:.0%} below: {held_out}." if held_out else "")
    return "\n".join([
        table(["case", "looks", f"more than {threshold:.0%} below its median (Wilson 95%)", "sd of the log speedup",
               "slope on fp32's log CPU ms", "correlation", "sd without it",
               f"more than {threshold:.0%} below without it"],
              cases),
        "",
        table(["after a slow look", "looks of the same case slow still (Wilson 95%)", "their median"], lags),
        "",
        f"{len(processes)} `pytest --qbench` processes, each timing the {len(data['cases'])} cases once (first look"
        f" only, no confirmation), back to back, {statistics.median(p['seconds'] for p in processes):.0f} s each"
        f" (median). A look is slow at more than {threshold:.0%} below its case's median, slow still at more than"
        f" {threshold / 2:.0%}; any look is that slow {_rate(s['half_slow'])}.{moved}{held_out} "
        + footer(run_of(data), rerun(data), result.path),
    ])


# ---- bench/gate_periods.py: the model with slow periods, and a confirmation apart in time --------------------------


def render_gate_periods(result: Result) -> str:
    """Per confirmation delay: how often a slow case is slow still, and the red runs the model predicts."""
    data = result.data
    fitted, check = data["fitted"], data["check"]

    def rates(row: dict[str, Any], kind: str) -> str:
        return f"{row['estimate'][kind]:.1%} ({row['low'][kind]:.1%}–{row['high'][kind]:.1%})"

    def lag(row: dict[str, Any]) -> str:
        start = f"{row['from_s'] / 60:g}"
        return f"{start}–{row['to_s'] / 60:g} min later" if row["to_s"] else f"{start} min later and on"

    right = data["right_after"]
    rows = [["right after (the run's fresh processes; fitted)", _rate(fitted["persisted"]), rates(right, "lenient"),
             rates(right, "strict")]]
    rows += [[lag(row), _rate(row["still_slow"]), rates(row, "lenient"), rates(row, "strict")]
             for row in data["delayed"]]
    recorded = "; ".join(f"{kind} {c['recorded']} of {fitted['aa_runs']} recorded against {c['expected']:.1f}"
                         f" expected (a count this high or higher: {c['p_at_least']:.0%})" for kind, c in check.items())
    return "\n".join([
        table(["confirmation", "slow still (Wilson 95%)", "red runs, lenient (p and s at their ends)",
               "red runs, strict"], rows),
        "",
        f"A gate run of {fitted['cases']} cases; a first look slow (more than {data['excursion']:.0%} below its case's"
        f" median) with p = {_rate(fitted['p'])} per case-run; of the cases slow through the confirmation,"
        f" {_rate(fitted['failed_of_persisted'])} failed, the rest inconclusive. Checked against the A/A runs the"
        f" parameters come from: {recorded}. Sources: {', '.join(f'`{s}`' for s in data['sources'])}. "
        + footer(run_of(data), "PYTHONPATH=. .venv/bin/python bench/gate_periods.py", result.path),
    ])


# ---- bench/slow_looks.py: which model a slow first look moved; the covariate; the confirmation replayed ------------


def _replay_rows(s: dict[str, Any]) -> list[list[Any]]:
    """A study's confirmations judged again by the gate's three rules."""
    c, rows = s["confirmation"], []
    for estimator, label in REPLAY_LABELS.items():
        unslowed, target = c["counts"][estimator]["unslowed"], c["counts"][estimator]["target"]
        label += ", as the runs judged" if c["judged_by"] == [estimator] else ""
        rows.append([f"`{s['name']}`", label, sum(unslowed.values()),
                     " / ".join(str(unslowed[v]) for v in ("fail", "inconclusive", "pass")),
                     f"{c['red'][estimator]['lenient']} / {c['red'][estimator]['strict']} of {c['aa_runs']}",
                     f"{target['fail']} of {sum(target.values())}" if sum(target.values()) else "–"])
    return rows


def _baseline_rows(s: dict[str, Any]) -> list[list[Any]]:
    """A study's runs judged again against baselines of more runs, by the pooled sigma and by each case's own."""
    rows = []
    for r in s["baselines"]:
        flagged = ", ".join(f"`{name}` {n}" for name, n in sorted(r["aa_cases_flagged"].items())) or "none"
        rows.append([f"`{s['name']}`", r["baseline_runs"] or "the study's own",
                     "the case's own where larger (not adopted)" if r["own_spread"] else "pooled (the gate)",
                     f"{_rate(r['aa_red_lenient'])} / {r['aa_red_strict']['hits']}", r["aa_unconfirmed"], flagged,
                     _rate(r["target_caught"]) if r["target_caught"] else "–", r["target_unconfirmed"],
                     f"{r['sigma_median']:.2%}"])
    return rows


REPLAY_LABELS = {"median": "the median of all three (before 2ca4090)", "best": "the best of all three (until §8j)",
                 "fresh": "the best of the fresh processes (the gate now)"}
RULE_LABELS = {"today": "today's", "given_speed": "given the machine's speed (fp32 CPU time)",
               "given_excess": "given the case's fp32 excess over the run's common move"}


def render_slow_looks(result: Result) -> str:
    """Per live study: its slow first looks by the model that moved and what the confirmation did; the covariate
    against today's rule at first look; the confirmation replayed by the gate's three rules."""
    data = result.data
    looks, rules, replays, targets, more = [], [], [], [], []
    for s in data["studies"]:
        if s["targets"]:  # a study of A/A runs only slowed nothing
            targets.append(_slowed_target_row(s))
        slow, kinds = s["slow_looks"], s["kinds"]
        confirmed = [look for look in slow if look["confirmation"]]
        looks.append([f"`{s['name']}`", s["runs"], len(slow), kinds["int8 slower"], kinds["fp32 faster"],
                      f"{sum(not look['checks'] for look in confirmed)} of {len(confirmed)}"])
        for rule, label in RULE_LABELS.items():
            r = s["covariate"]["rules"][rule]
            rules.append([f"`{s['name']}`", label, _rate(r["failed"]), r["inconclusive"]["hits"],
                          f"{r['aa_red_lenient']['hits']} / {r['aa_red_strict']['hits']} of {r['aa_runs']}",
                          _rate(r["target_caught"]) if r["target_caught"] else "–", r["tail"]["3"],
                          f"{r['sigma_median']:.2%}"])
        if s["confirmation"]:
            replays += _replay_rows(s)
        if s.get("baselines"):
            more += _baseline_rows(s)
    first = data["studies"][0]
    studies = ", ".join(f"`{s['record']}` ({s['when']}; beside it: {s['beside']})" for s in data["studies"])
    return "\n".join([
        table(["study", "gate runs", f"first looks more than {first['excursion']:.0%} below their case's median",
               "int8 slower", "fp32 faster", "confirmed, then passed"], looks),
        "",
        table(["study", "rule, at first look", "first looks failed (Wilson 95%)", "inconclusive",
               "A/A runs red at first look: lenient / strict", "slowed case caught", "standardized drops > 3",
               "between-run sigma (median)"], rules),
        "",
        table(["study", "confirmation judged on", "A/A cases confirmed", "fail / inconclusive / pass",
               "A/A runs red: lenient / strict", "slowed case failed, of the slowed runs"], replays),
        "",
        table(["study", "slowed runs: target failed", "caught: its first look vs the baseline",
               "caught: its fp32 CPU time vs the baseline", "not caught: first look; fp32 CPU time (the run's other"
               " cases)"], targets),
        "",
        *([table(["study", "baseline runs a case", "between-run sigma of a case",
                  "A/A runs red: lenient (Wilson 95%) / strict", "A/A runs with a case left unconfirmed",
                  "A/A cases flagged, runs", "slowed case caught", "slowed case left unconfirmed",
                  "pooled sigma (median)"], more), ""] if more else []),
        f"Studies: {studies}."
        " A first look's kind: int8 slower when its int8 model's CPU time per call rose by at least half the"
        " speedup's drop and by more than fp32's fell; else fp32 faster. The rules at first look learn from the"
        " baseline runs and the study's other runs (leave one run out)" + seeded_note(data["studies"]) + ". The"
        " replay judges each confirmed case's recorded measurements with the package's rule of each kind; one of"
        " them gives every verdict the runs recorded (the script stops otherwise); a slowed case that passed at"
        " first look counts as a pass."
        + (" Baselines of more runs: each run judged again against the study's update runs and the first looks of"
           " the runs after it (in a cycle; a slowed run's target left out), the gate's sigma pooled from them; a"
           " case that passes at first look passes, one the run confirmed is decided by its fresh processes, and one"
           " that did not pass but that the run did not confirm (no fresh process measured it) is counted apart, not"
           " red; the case's own sigma: its runs' variance beyond their own errors, moderated toward the pool"
           " (6 degrees of freedom), never below it." if more else "")
        + " "
        + footer(run_of(data), "PYTHONPATH=. .venv/bin/python bench/slow_looks.py --studies "
                 + " ".join(s["name"] for s in data["studies"]), result.path),
    ])


def seeded_note(studies: list[dict[str, Any]]) -> str:
    """Which studies' runs also learnt from a history they were seeded with, and why their confirmations are not
    replayed."""
    seeded = [s for s in studies if s.get("seeded")]
    if not seeded:
        return ""
    names = ", ".join(f"`{s['name']}`" for s in seeded)
    return (f"; {names} also from the history its gate runs learnt from ({', '.join(str(s['seeded']) for s in seeded)}"
            " case-runs), and its confirmations, judged with speed lines learnt from it, are not replayed")


def _slowed_target_row(study: dict[str, Any]) -> list[Any]:
    """The slowed target's first looks of one study: caught, with their range; each miss on its own."""
    looks = study["targets"]
    caught = [t for t in looks if t["verdict"] == "fail"]

    def spread(key: str) -> str:
        return f"{math.expm1(min(t[key] for t in caught)):+.1%} to {math.expm1(max(t[key] for t in caught)):+.1%}"

    missed = "; ".join(f"{math.expm1(t['speedup']):+.1%}, {math.expm1(t['fp32']):+.1%}"
                       f" ({math.expm1(t['fp32_others']):+.1%}): {t['verdict']}"
                       for t in looks if t["verdict"] != "fail")
    return [f"`{study['name']}`", f"{len(caught)} of {len(looks)}", spread("speedup") if caught else "–",
            spread("fp32") if caught else "–", missed or "–"]


def render_cpu_model_offset(result: Result) -> str:
    """Inline: the range over the cases of the speedup ratio between two CPU models of one key."""
    offsets = [o for o in result.data["figures"]["speedup"]["offsets"] if not o["same_cpu_model"]]
    return ", ".join(f"{math.exp(o['low']):.3f}–{math.exp(o['high']):.3f}" for o in offsets)


# ---- bench/sessions.py (archived): one slow session -----------------------------------------------------------------


def render_sessions(*records: Result) -> str:
    """Per host, condition, variant and shape: where the log speedup varies, and the excursions."""
    header = ["CPU", "condition", "variant", "shape", "processes x sessions x passes", "median speedup",
              "sd: pass / session / process", "excursions: measurements (sessions, both passes)", "worst",
              "the excursions' optimized / original ms"]
    rows, footers = [], []
    for result in records:
        data = result.data
        for s in data["summary"]:
            moved = s["moved"]
            which = "–" if not moved else "; ".join(f"{m['optimized']:+.0%} / {m['original']:+.0%}" for m in moved[:4])
            rows.append(
                [
                    data["machine"]["cpu_model"],
                    s["condition"],
                    s["variant"],
                    s["shape"],
                    f"{s['processes']} x {s['sessions'] // s['processes']} x {data['passes']}",
                    f"{s['median_speedup']:.3f}",
                    " / ".join(
                        "–" if math.isnan(s[k]) else f"{s[k]:.2%}" for k in ("sd_pass", "sd_session", "sd_process")
                    ),
                    f"{s['excursions']} of {s['measurements']} ({s['excursion_sessions']}, {s['persistent_sessions']})",
                    pct(s["worst"]),
                    which,
                ]
            )
        sessions = sum(s["sessions"] for s in data["summary"]) // len(data["shapes"])
        slow = sum(s["excursion_sessions"] for s in data["summary"])
        footers.append(
            f"{data['machine']['cpu_model']}: session pairs with an excursion, {wilson(slow, sessions)} (Wilson"
            " 95%; one slow at both shapes counts twice)."
        )
        footers.append(
            footer(
                run_of(data),
                archived(".venv/bin/python bench/sessions.py"),
                result.path,
                f"; the gate's CPU phase, an excursion below -{data['excursion']:.0%} of its group's median;"
                f" transparent huge pages `{data['transparent_hugepage']}`",
            )
        )
    return "\n".join([table(header, rows), "", *footers])


# ---- bench/gate_tails.py (archived): the gate under slow sessions, with the in-run confirmation ---------------------


def _wilson(w: dict[str, float] | None) -> str:
    return "–" if w is None else f"{w['rate']:.1%} ({w['low']:.1%}–{w['high']:.1%})"


def _recorded(part: dict[str, Any]) -> str:
    r = part["recorded"]
    return "–" if r is None else f"{r['hits']} of {r['n']}; model's chance of as many: {part['chance_of_as_many']:.1%}"


def render_gate_tails(result: Result) -> str:
    """The excursions counted, the contamination p, the recorded A/A designs reproduced, the gate simulated."""
    data = result.data
    tallies = [[t["source"], t["cpu_model"], t["case_runs"],
                ", ".join(f"{math.expm1(x):+.1%}" for x in t["excursions"]) or "none"] for t in data["tallies"]]
    amx, every = data["p_amx"], data["p_all"]
    repro = [[r["design"], r["model"], _wilson(r["fail"]["simulated"]), _recorded(r["fail"]),
              _wilson(r["fail_or_inconclusive"]["simulated"]), _recorded(r["fail_or_inconclusive"])]
             for r in data["reproduction"]]
    sim = [[f"{r['p']} ({r['tail_p']:.2%})", r["baseline_runs"], r["confirm"] or "no", _wilson(r["lenient"]),
            _wilson(r["strict"]), _wilson(r["caught"]), f"{r['processes_per_run']:.2f}"] for r in data["simulation"]]
    c = data["components"]
    return "\n".join(
        [
            "### 8b. Slow sessions: a between-run model with tails, and the in-run confirmation",
            "",
            "An excursion is a case-run (one case of one gate run, its own int8 session) whose log speedup lies more"
            " than"
            f" {-math.expm1(data['threshold']):.0%} below the median of the same case's other runs on its host:",
            "",
            table(["runs counted", "CPU model", "case-runs", "excursions"], tallies),
            "",
            f"Contamination p on the AMX CPU model (intel-6-167): {amx['hits']} of {amx['n']} = {amx['rate']:.2%}"
            " (Wilson"
            f" 95% {amx['low']:.2%}–{amx['high']:.2%}, exact {amx['exact_low']:.2%}–{amx['exact_high']:.2%}); on"
            " every host"
            f" counted: {every['hits']} of {every['n']} = {every['rate']:.2%}"
            f" ({every['low']:.2%}–{every['high']:.2%}). The"
            f" model: today's Gaussian components (per run {c['process']:.2%}, per case"
            f" {math.hypot(c['interaction'], c['repeat']):.2%} from §7, and a host shift of {data['host_sigma']:.2%},"
            " not measured: the between-process tau, as §8 assumes) and, with chance p per"
            " case-run, one of the observed excursions taken off that case's speedup; the true speedups and own errors"
            f" are the AMX host's cold demo ({data['cases']} cases); rtol {data['rtol']:g}, {data['alpha']:.0%} false"
            f" alarms per run allowed; {data['trials']} simulated gate runs per row.",
            "",
            "The recorded A/A designs of the AMX host (baselines recorded on the gated host, no confirmation), per"
            " gate run:",
            "",
            table(
                [
                    "design",
                    "model",
                    "a case fails: simulated (95%)",
                    "recorded",
                    "a case fails or is inconclusive: simulated",
                    "recorded",
                ],
                repro,
            ),
            "",
            'Fresh VMs, the baseline\'s N runs each on its own; "confirm 2": a case whose first look fails or is'
            " inconclusive is measured in 2 fresh processes on the same VM (host shift shared; process, case, own"
            " error and"
            " slow session redrawn) and judged on the median of its 3 measurements (`stats.median_cpu`). False alarms"
            " count the cases other than the slowed one:",
            "",
            table(
                [
                    "p",
                    "baseline runs N",
                    "confirm",
                    "false alarms per run: a case fails (95%)",
                    "strict: fails or inconclusive",
                    "10% slowdown of one case caught",
                    "fresh processes per A/A run",
                ],
                sim,
            ),
            "",
            footer(run_of(data), archived(".venv/bin/python bench/gate_tails.py"), result.path),
        ]
    )


# ---- bench/gate_targets.py (archived): what the targets would take --------------------------------------------------


def render_gate_targets(result: Result) -> str:
    """The tailed model with the in-run confirmation, swept over timing precision, host shift and baseline runs."""
    data = result.data
    met = {"lenient": 0.01, "strict": 0.05}

    def mark(row: dict[str, Any]) -> str:
        ok = [
            row["lenient"]["rate"] <= met["lenient"],
            row["strict"]["rate"] <= met["strict"],
            row["caught"]["rate"] >= 0.9,
        ]
        return (
            "all three"
            if all(ok)
            else ", ".join(n for n, k in zip(("lenient", "strict", "caught"), ok, strict=True) if k) or "none"
        )

    rows = [
        [
            r["target_ci_width"],
            f"x{r['pairs_cost']:.1f}",
            f"{r['host']} ({r['host_sigma']:.2%})",
            r["baseline_runs"],
            _wilson(r["lenient"]),
            _wilson(r["strict"]),
            _wilson(r["caught"]),
            mark(r),
        ]
        for r in data["rows"]
    ]
    return "\n".join(
        [
            table(
                [
                    "CPU phase target CI width",
                    "its pairs",
                    "host shift of a fresh VM",
                    "baseline runs N",
                    "false alarms per run: lenient (95%)",
                    "strict",
                    "10% slowdown caught",
                    "targets met (point estimates)",
                ],
                rows,
            ),
            "",
            f"The tailed model of §8b (slow sessions at p = {data['tail_p']:.2%}), the in-run confirmation on, rtol"
            f" {data['rtol']:g}, {data['cases']} cases, {data['trials']} simulated gate runs per row and arm.",
            "",
            footer(run_of(data), archived("PYTHONPATH=. .venv/bin/python bench/gate_targets.py"), result.path),
        ]
    )


# ---- bench/cpu_time_rule.py: cpu_time_rtol per case vs beyond the run's common move, replayed ----------------------

def render_cpu_time_rule(result: Result) -> str:
    """Per live study and arm: the runs a case's CPU time per call failed under each rule, at first look."""
    data = result.data
    rows = []
    for s in data["studies"]:
        for arm, figures in s["arms"].items():
            before, now = figures["per_case"], figures["beyond_common"]
            rows.append([f"`{s['name']}`", ARM_NAMES[arm], before["red"]["n"],
                         _range(figures["common"]),
                         _rate(before["red"]), before["cases"], _rate(now["red"]), now["cases"],
                         pct(figures["largest_excess"])])
    studies = ", ".join(f"`{s['record']}` ({s['when'][:16]}, {s['machine']['hardware_key']})" for s in data["studies"])
    return "\n".join([
        table(["study", "arm", "runs", "the run's common move (range)", "red per case vs the baseline (before)",
               "cases", "red beyond the common move (now)", "cases", "largest excess over the common move"], rows),
        "",
        f"cpu_time_rtol {data['rtol']:g}, judged on each run's first looks (each model's CPU time per call, as the"
        f" record keeps them) against the median of the study's baseline runs. Studies: {studies}. " +
        footer(run_of(data), "PYTHONPATH=. .venv/bin/python bench/cpu_time_rule.py --studies "
               + " ".join(s["name"] for s in data["studies"]), result.path),
    ])


def _range(values: list[float]) -> str:
    low, high = values
    return f"{low:+.1%} to {high:+.1%}"
