"""Where the gated latency figures vary: within a run, between runs on one host, between hosts and
CPU models of one hardware key (issue 22). Reads every host record under bench/results/hosts/
(bench/hosts.py) and the committed baselines; writes bench/results/variance.json.

    .venv/bin/python bench/variance.py

For each figure on the log scale — the one-thread CPU-time speedup, and each model's CPU time per
call — and for each host with more than one run, a random-effects model of its measurements

    x[case, process, repeat] = mu[case] + P[process] + I[case, process] + R[case, process, repeat] + e

where e is the measurement's own error (its 95% interval read as a normal one: the part every run
already carries), R what a second measurement in the same process adds beyond it, P what a new
process shifts every case by alike, and I what it shifts one case by. Method of moments (a two-way
analysis of variance of the per-process means, and the pooled spread of repeats), each component
with a 95% interval from a parametric bootstrap of the same design. `tau` is the between-run
standard deviation of one case beyond its own interval: what the gate's rule must add.
docs/BENCHMARKS.md renders the result (bench/renderers/benchmarks.py: render_variance).

Between VMs of one CPU model (records of two VMs or more, told apart by their boot id; gate runs and
probes kept apart): the same model with a VM's shift common to all its cases (the "host shift" that
the simulations of docs/BENCHMARKS.md §8, §8b and §8d draw once per fresh VM) and a VM's own part per
case added, every run of the VMs in one table (`vm_components`).

Between hosts of one key, per case common to both: the log ratio of the two hosts' mean figures,
its median (a systematic offset) and its spread across cases. Between two CPU models that offset
depends on the case (the shape), so no single per-model factor can remove it.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
from run_record import run_info, run_start, save_result

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RECORDS = BENCH / "results" / "hosts"
RESULTS = BENCH / "results" / "variance.json"
Z95 = NormalDist().inv_cdf(0.975)
FIGURES = ("speedup", "optimized_ms", "original_ms")
# Committed baselines as one-run hosts: (key, the CPU the commit names, the commit that recorded them).
# Single runs recorded by earlier sessions, read from the baselines as they stood at a commit: (key, the
# CPU the recording commit names, the commit that recorded them, the commit to read them at).
COMMITTED = (
    ("x86_64-avx512_vnni-2c", "amd-zen4", "c803a01", "cd25462"),
    ("x86_64-avx2-2c", "amd-zen3", "48478fa", "cd25462"),
)
BOOTSTRAP = 2000


@dataclass(frozen=True)
class Run:
    """One process's measurements on one host: case -> per repeat (log value, its standard error or None)."""

    values: dict[str, list[tuple[float, float | None]]]


@dataclass(frozen=True)
class Host:
    name: str
    key: str
    cpu_model: str
    runs: list[dict[str, Run]]  # per process: figure -> Run
    source: str
    vm: str  # the machine the runs ran on (its boot id): records of one VM share it


def _log_se(figure: dict[str, Any]) -> float | None:
    low, high = figure.get("ci_low"), figure.get("ci_high")
    return None if low is None or high is None else math.log(high / low) / (2 * Z95)


def _value(figure: dict[str, Any]) -> float:
    return math.log(figure["value"] if "value" in figure else figure["median"])


# A probe measures the reference card's O1 dynamic and static int8 [Add, MatMul]: the variants of these
# example tests, under which gate runs and baselines name the same cases.
PROBE_TESTS = {"dynamic": "examples/test_reference_card.py::test_conll03_reference_card",
               "static": "examples/test_reference_card.py::test_conll03_reference_card_static"}


def _case_name(case: str, source: str) -> str:
    """A probe's case as gate runs and baselines name it (test::id); others' as they are."""
    return f"{PROBE_TESTS[case.split('-', 1)[0]]}::{case}" if source == "probe" else case


def load_record(path: Path) -> Host:
    record = json.loads(path.read_text())
    source = record.get("source", "probe")
    runs = []
    for run in record["runs"]:
        by_figure: dict[str, dict[str, list[tuple[float, float | None]]]] = {f: {} for f in FIGURES}
        for m in run["measurements"]:
            for figure in FIGURES:
                by_figure[figure].setdefault(_case_name(m["case"], source), []).append(
                    (_value(m[figure]), _log_se(m[figure]))
                )
        runs.append({f: Run(v) for f, v in by_figure.items()})
    host = record["host"]
    return Host(path.stem, host["hardware_key"], host["cpu_model"], runs, source, host.get("boot", path.stem))


def committed_baselines(key: str, cpu_model: str, commit: str, at: str) -> Host:
    """The baselines of `key` as committed at `at`, a one-run host (cases named test::id, as gate records name them)."""
    by_figure: dict[str, dict[str, list[tuple[float, float | None]]]] = {f: {} for f in FIGURES}
    for name in _git("ls-tree", "--name-only", f"{at}:baselines").split():
        doc = json.loads(_git("show", f"{at}:baselines/{name}"))
        for case_id, by_key in doc["cases"].items():
            cpu = by_key.get(key, {}).get("latency", {}).get("cpu")
            if cpu is None:
                continue
            name = f"{doc['test']}::{case_id}"
            by_figure["speedup"][name] = [(math.log(cpu["speedup"]["value"]), _log_se(cpu["speedup"]))]
            by_figure["optimized_ms"][name] = [(math.log(cpu["optimized_ms"]), None)]
            by_figure["original_ms"][name] = [(math.log(cpu["original_ms"]), None)]
    return Host(f"baselines {key} ({commit})", key, cpu_model, [{f: Run(v) for f, v in by_figure.items()}],
                f"committed baselines, recorded in {commit}", f"baselines {commit}")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


# ---- one host: the random-effects model -----------------------------------------------------------------


@dataclass(frozen=True)
class Design:
    cases: int
    processes: int
    repeats: int


@dataclass(frozen=True)
class Components:
    """Standard deviations on the log scale (0.01 is about 1%), with 95% intervals."""

    within: float | None  # median own standard error of a measurement (its interval); None: none recorded
    repeat: (
        tuple[float, float, float] | None
    )  # (estimate, low, high): a 2nd measurement in one process, beyond `within`
    process: tuple[float, float, float]  # a new process, every case alike
    interaction: tuple[float, float, float]  # a new process, one case (with the repeat part when there is one repeat)
    tau: tuple[float, float, float]  # one case, run to run, beyond its own interval


def _table(host: Host, figure: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """values[case, process, repeat] and their standard errors (NaN where unknown), cases every run has."""
    cases = sorted(set.intersection(*(set(run[figure].values) for run in host.runs)))
    repeats = min(len(run[figure].values[c]) for run in host.runs for c in cases)
    values = np.array([[[run[figure].values[c][r][0] for r in range(repeats)] for run in host.runs] for c in cases])
    errors = np.array([[[run[figure].values[c][r][1] if run[figure].values[c][r][1] is not None else np.nan
                         for r in range(repeats)] for run in host.runs] for c in cases])
    return values, errors, cases


def _moments(values: np.ndarray, within_var: float) -> dict[str, float]:
    """Method-of-moments variance components of values[case, process, repeat]."""
    cases, processes, repeats = values.shape
    cell = values.mean(axis=2)
    repeat_ms = float(values.var(axis=2, ddof=1).mean()) if repeats > 1 else math.nan
    error_var = repeat_ms if repeats > 1 else within_var  # of one measurement, around its cell
    residual = cell - cell.mean(axis=1, keepdims=True) - cell.mean(axis=0, keepdims=True) + cell.mean()
    interaction_ms = float((residual ** 2).sum() / ((cases - 1) * (processes - 1)))
    process_ms = float(cases * ((cell.mean(axis=0) - cell.mean()) ** 2).sum() / (processes - 1))
    return {
        "repeat": max(repeat_ms - within_var, 0.0) if repeats > 1 else math.nan,
        "interaction": max(interaction_ms - error_var / repeats, 0.0),
        "process": max((process_ms - interaction_ms) / cases, 0.0),
    }


def _simulate(design: Design, variances: dict[str, float], within_var: float, rng: np.random.Generator) -> np.ndarray:
    shape = (design.cases, design.processes, design.repeats)
    process = rng.normal(0, math.sqrt(variances["process"]), (1, design.processes, 1))
    interaction = rng.normal(0, math.sqrt(variances["interaction"]), (design.cases, design.processes, 1))
    repeat = rng.normal(0, math.sqrt(0.0 if math.isnan(variances["repeat"]) else variances["repeat"]), shape)
    return process + interaction + repeat + rng.normal(0, math.sqrt(within_var), shape)


def _tau(variances: dict[str, float]) -> float:
    return math.sqrt(sum(0.0 if math.isnan(v) else v for v in variances.values()))


def components(host: Host, figure: str, seed: int = 0) -> tuple[Design, Components] | None:
    if len(host.runs) < 2:
        return None
    values, errors, _ = _table(host, figure)
    design = Design(*values.shape)
    known = errors[~np.isnan(errors)]
    within = float(np.median(known)) if known.size else None
    within_var = float(np.mean(known ** 2)) if known.size else 0.0
    estimate = _moments(values, within_var)
    rng = np.random.default_rng(seed)
    draws = [_moments(_simulate(design, estimate, within_var, rng), within_var) for _ in range(BOOTSTRAP)]

    def interval(name: str) -> tuple[float, float, float]:
        sds = np.sqrt([d[name] for d in draws])
        return math.sqrt(estimate[name]), float(np.percentile(sds, 2.5)), float(np.percentile(sds, 97.5))

    taus = [_tau(d) for d in draws]
    return design, Components(
        within=within,
        repeat=None if design.repeats < 2 else interval("repeat"),
        process=interval("process"),
        interaction=interval("interaction"),
        tau=(_tau(estimate), float(np.percentile(taus, 2.5)), float(np.percentile(taus, 97.5))),
    )


# ---- between hosts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offset:
    """Host b against host a, per case common to both: log(b / a) of their mean figures."""

    a: str
    b: str
    key: str
    same_cpu_model: bool
    cases: int
    median: float
    sd: float
    low: float
    high: float


def _host_means(host: Host, figure: str) -> dict[str, float]:
    cases = set.intersection(*(set(run[figure].values) for run in host.runs))
    return {c: float(np.mean([v for run in host.runs for v, _ in run[figure].values[c]])) for c in cases}


def offsets(hosts: Iterable[Host], figure: str) -> list[Offset]:
    found = []
    for a, b in combinations(hosts, 2):
        if a.key != b.key:
            continue
        ma, mb = _host_means(a, figure), _host_means(b, figure)
        common = sorted(ma.keys() & mb.keys())
        if len(common) < 2:
            continue
        diffs = np.array([mb[c] - ma[c] for c in common])
        found.append(Offset(a.name, b.name, a.key, a.cpu_model == b.cpu_model, len(common), float(np.median(diffs)),
                            float(diffs.std(ddof=1)), float(diffs.min()), float(diffs.max())))
    return found


# ---- between VMs of one CPU model: the host shift ----------------------------------------------------------
#
# Per case c, run r on VM v(r), the log figure
#
#     x[c, r] = mu[c] + V[v] + W[c, v] + P[r] + I[c, r] + e[c, r]
#
# V: the host shift, a new VM's shift common to all its cases (bench/gate_replay.py's `Model.host`, which
# §8, §8b and §8d draw once per fresh VM); W: what a new VM adds to one case beyond it; P and I: a new
# process on the same VM, every case alike and one case (the within-VM components above); e: the
# measurement's own error. Method of moments on the table of all runs of one CPU model, and 95% intervals
# by inverting a parametric bootstrap of the same design.


@dataclass(frozen=True)
class VmDesign:
    cases: int
    runs: tuple[int, ...]  # processes per VM


@dataclass(frozen=True)
class VmComponents:
    """Standard deviations on the log scale, each (estimate, low, high) with a 95% interval."""

    within: float | None  # median own standard error of a run's value (its interval); None: none recorded
    process: tuple[float, float, float]  # a new process on the same VM, every case alike
    interaction: tuple[float, float, float]  # a new process on the same VM, one case (with its repeats' part)
    vm: tuple[float, float, float]  # the host shift: a new VM, every case alike
    vm_case: tuple[float, float, float]  # a new VM, one case, beyond the host shift
    tau: tuple[float, float, float]  # one case, a new process on a new VM, beyond its interval: all four (_tau_span)


@dataclass(frozen=True)
class VmFit:
    """The VMs of one CPU model in one kind of record (gate artifacts or probe), and their components."""

    cpu_model: str
    key: str
    source: str
    vms: list[list[str]]  # per VM, the names of its records
    design: VmDesign
    components: VmComponents


COMPONENTS = ("process", "interaction", "vm", "vm_case")
VM_BOOTSTRAP = 1000  # simulated designs per candidate sigma
GRID_TOP, GRID_POINTS = 0.05, 101  # the candidate sigmas: 0 to GRID_TOP, doubled while the interval reaches it
GRID_LIMIT = 1.0  # a log figure moving by a factor e between VMs is no timing noise
CONFIDENCE = 0.95


def vm_groups(hosts: Iterable[Host]) -> list[list[list[Host]]]:
    """Hosts by CPU model and source, then by VM: the CPU models with records of two VMs or more."""
    grouped: dict[tuple[str, str], dict[str, list[Host]]] = {}
    for host in hosts:
        grouped.setdefault((host.cpu_model, host.source), {}).setdefault(host.vm, []).append(host)
    return [list(by_vm.values()) for by_vm in grouped.values() if len(by_vm) > 1]


def vm_table(vms: list[list[Host]], figure: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values[case, run] over every run of the VMs (a run's repeats averaged), each value's own error variance
    (0 where unknown) and the VM of each run (its index in `vms`); the cases every run measured."""
    runs = [(index, run[figure]) for index, group in enumerate(vms) for host in group for run in host.runs]
    cases = sorted(set.intersection(*(set(run.values) for _, run in runs)))
    values = np.array([[np.mean([v for v, _ in run.values[c]]) for _, run in runs] for c in cases])
    own = np.array([[np.mean([0.0 if se is None else se**2 for _, se in run.values[c]]) / len(run.values[c])
                     for _, run in runs] for c in cases])
    return values, own, np.array([index for index, _ in runs])


def _centered(table: np.ndarray) -> np.ndarray:
    """A [..., case, column] table less its case and column means: a two-way analysis's residuals."""
    return (table - table.mean(axis=-1, keepdims=True) - table.mean(axis=-2, keepdims=True)
            + table.mean(axis=(-2, -1), keepdims=True))


def vm_moments(values: np.ndarray, own: np.ndarray, vm: np.ndarray) -> dict[str, np.ndarray]:
    """Variance components of values[..., case, run] (leading axes: simulated designs), run r on VM vm[r], own[case,
    run] each value's own error variance; not truncated at 0."""
    labels, counts = np.unique(vm, return_counts=True)
    repeated = [(vm == label, int(n)) for label, n in zip(labels, counts, strict=True) if n > 1]
    if not repeated:
        raise ValueError("the within-VM components need a VM with two runs or more")
    process, interaction = _within_vm(values, own, repeated)
    vm_shift, vm_case = _between_vms(values, own, vm, process, interaction)
    return {"process": process, "interaction": interaction, "vm": vm_shift, "vm_case": vm_case}


def _within_vm(values: np.ndarray, own: np.ndarray,
               repeated: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """A new process on one VM, pooled over the VMs with two runs or more: the two-way analysis of each VM's
    runs gives the per-case part, the spread of its runs' means over the cases the common part."""
    cases = values.shape[-2]
    residual_ss, own_part, weight = 0.0, 0.0, 0.0
    for runs, n in repeated:
        factor = (1 - 1 / cases) * (1 - 1 / n)  # E(residual_ss) = factor x the sum of the values' variances
        residual_ss = residual_ss + (_centered(values[..., runs]) ** 2).sum(axis=(-2, -1))
        own_part += factor * own[:, runs].sum()
        weight += factor * cases * n
    interaction = (residual_ss - own_part) / weight
    means_ss, noise = 0.0, 0.0
    for runs, n in repeated:
        means = values[..., runs].mean(axis=-2)
        means_ss = means_ss + ((means - means.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
        noise = noise + ((n - 1) * np.maximum(interaction, 0.0) + (1 - 1 / n) * own[:, runs].mean(axis=0).sum()) / cases
    return (means_ss - noise) / sum(n - 1 for _, n in repeated), interaction


def _between_vms(values: np.ndarray, own: np.ndarray, vm: np.ndarray, process: np.ndarray,
                 interaction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same analysis of the per-VM case means (cells), less what the within-VM parts and the own errors put
    into a mean of each VM's runs: the per-case part W, then the common part V."""
    cases = values.shape[-2]
    labels, counts = np.unique(vm, return_counts=True)
    vms = labels.size
    cells = np.stack([values[..., vm == label].mean(axis=-1) for label in labels], axis=-1)
    cell_noise = (np.asarray(np.maximum(interaction, 0.0))[..., None, None] / counts
                  + np.stack([own[:, vm == label].sum(axis=-1) for label in labels], axis=-1) / counts**2)
    residual_ss = (_centered(cells) ** 2).sum(axis=(-2, -1))
    vm_case = (residual_ss / ((1 - 1 / cases) * (1 - 1 / vms)) - cell_noise.sum(axis=(-2, -1))) / (cases * vms)
    means = cells.mean(axis=-2)
    spread = ((means - means.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1) / (1 - 1 / vms)
    noise = (np.asarray(np.maximum(process, 0.0))[..., None] / counts
             + (np.asarray(np.maximum(vm_case, 0.0))[..., None] + cell_noise.mean(axis=-2)) / cases).sum(axis=-1)
    return (spread - noise) / vms, vm_case


def _noise(cases: int, vm: np.ndarray, draws: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Standard normal draws of the design, reused for every candidate sigma (common random numbers)."""
    vms, runs = int(vm.max()) + 1, vm.size
    return {"vm": rng.standard_normal((draws, 1, vms)), "vm_case": rng.standard_normal((draws, cases, vms)),
            "process": rng.standard_normal((draws, 1, runs)), "interaction": rng.standard_normal((draws, cases, runs)),
            "own": rng.standard_normal((draws, cases, runs))}


def _simulate_vms(variances: dict[str, float], noise: dict[str, np.ndarray], own: np.ndarray,
                  vm: np.ndarray) -> np.ndarray:
    sd = {name: math.sqrt(variances[name]) for name in COMPONENTS}
    return (sd["vm"] * noise["vm"][..., vm] + sd["vm_case"] * noise["vm_case"][..., vm]
            + sd["process"] * noise["process"] + sd["interaction"] * noise["interaction"] + np.sqrt(own) * noise["own"])


def _inverted(name: str, estimate: dict[str, float], noise: dict[str, np.ndarray], own: np.ndarray,
              vm: np.ndarray) -> tuple[float, float]:
    """The 95% interval of one component's sigma: the candidates under which the observed estimate (truncated at 0,
    as reported) lies within the central 95% of the estimates the same design gives, the other components at their
    estimates. Unlike percentiles of draws around the estimate, it holds near 0, where three VMs leave it."""
    tail = (1 - CONFIDENCE) / 2
    top = GRID_TOP
    while top <= GRID_LIMIT:
        kept = []
        for sigma in np.linspace(0.0, top, GRID_POINTS):
            simulated = _simulate_vms({**estimate, name: sigma**2}, noise, own, vm)
            draws = np.maximum(vm_moments(simulated, own, vm)[name], 0.0)
            if min(np.mean(draws <= estimate[name]), np.mean(draws >= estimate[name])) >= tail:
                kept.append(float(sigma))
        if kept and kept[-1] < top:
            return kept[0], kept[-1]
        top *= 2
    raise ValueError(f"no sigma of {name} up to {GRID_LIMIT:g} bounds its interval: is the table on the log scale?")


def vm_components(vms: list[list[Host]], figure: str, seed: int = 0, draws: int = VM_BOOTSTRAP) -> VmFit | None:
    """The components of one CPU model's VMs; None when no VM has two runs (the within-VM parts are unknown)."""
    values, own, vm = vm_table(vms, figure)
    if np.bincount(vm).max() < 2:
        return None
    estimate = {name: max(float(v), 0.0) for name, v in vm_moments(values, own, vm).items()}
    noise = _noise(values.shape[0], vm, draws, np.random.default_rng(seed))
    found = {name: (math.sqrt(estimate[name]), *_inverted(name, estimate, noise, own, vm)) for name in COMPONENTS}
    known = own[own > 0]
    host = vms[0][0]
    return VmFit(host.cpu_model, host.key, host.source, [[h.name for h in group] for group in vms],
                 VmDesign(values.shape[0], tuple(int(n) for n in np.bincount(vm))),
                 VmComponents(within=float(np.median(np.sqrt(known))) if known.size else None, **found,
                              tau=_tau_span(estimate, found)))


def _tau_span(estimate: dict[str, float], found: dict[str, tuple[float, float, float]]) -> tuple[float, float, float]:
    """tau of the four parts, and its span: each part at either end of its interval, the others at their
    estimates, the widest. Percentiles of draws around an estimate near 0 would hide what a poorly known part
    (the host shift, over few VMs) may add."""
    total = sum(estimate.values())
    ends = [total - estimate[name] + bound**2 for name in COMPONENTS for bound in found[name][1:]]
    return math.sqrt(total), math.sqrt(min(ends)), math.sqrt(max(ends))


def main() -> None:
    start = run_start()
    hosts = [load_record(p) for p in sorted(RECORDS.glob("*.json"))]
    hosts += [committed_baselines(*spec) for spec in COMMITTED]
    results: dict[str, Any] = {"schema": 1, "records": [p.name for p in sorted(RECORDS.glob("*.json"))],
                               "committed": [list(spec) for spec in COMMITTED], "figures": {}}
    for figure in FIGURES:
        per_host = []
        for host in hosts:
            found = components(host, figure)
            if found is not None:
                design, parts = found
                per_host.append({"host": host.name, "key": host.key, "cpu_model": host.cpu_model, "source": host.source,
                                 "design": asdict(design), "components": asdict(parts)})
        fits = [fit for vms in vm_groups(hosts) if (fit := vm_components(vms, figure)) is not None]
        results["figures"][figure] = {"hosts": per_host, "offsets": [asdict(o) for o in offsets(hosts, figure)],
                                      "vms": [asdict(fit) for fit in fits]}
    save_result(RESULTS, {**run_info(start, threads=1), **results})


if __name__ == "__main__":
    main()

