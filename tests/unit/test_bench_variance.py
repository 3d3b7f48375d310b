"""bench/variance.py's between-VM model (the host shift of a fresh VM) on synthetic runs of known components: the
moments are unbiased in an unbalanced design, a host shift is recovered within its interval and none is found
where there is none, and the hosts are grouped by CPU model, source and VM."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import variance  # noqa: E402
from renderers import Result, render_variance  # noqa: E402

RUNS = (2, 3, 1, 2, 2)  # per VM: unbalanced, one VM with a single run
CASES = 24


def _draw(sigmas: dict[str, float], runs: tuple[int, ...], cases: int, own: np.ndarray, rng: np.random.Generator,
          designs: int = 1) -> np.ndarray:
    """values[design, case, run] of the model, drawn here independently of the module's simulation."""
    vm = np.repeat(np.arange(len(runs)), runs)
    mu = rng.normal(0.4, 0.1, (1, cases, 1))
    shift = rng.normal(0, sigmas["vm"], (designs, 1, len(runs)))[..., vm]
    vm_case = rng.normal(0, sigmas["vm_case"], (designs, cases, len(runs)))[..., vm]
    process = rng.normal(0, sigmas["process"], (designs, 1, vm.size))
    interaction = rng.normal(0, sigmas["interaction"], (designs, cases, vm.size))
    return mu + shift + vm_case + process + interaction + rng.normal(0, 1, (designs, cases, vm.size)) * np.sqrt(own)


def _own(runs: tuple[int, ...], cases: int, rng: np.random.Generator) -> np.ndarray:
    """Own error variances that differ by case and run, as recorded intervals do."""
    return rng.uniform(0.005, 0.015, (cases, sum(runs))) ** 2


@pytest.mark.parametrize("sigmas", [
    {"vm": 0.02, "vm_case": 0.01, "process": 0.005, "interaction": 0.01},
    {"vm": 0.0, "vm_case": 0.0, "process": 0.02, "interaction": 0.015},  # a loud process, no VM at all
])
def test_the_moments_are_unbiased_in_an_unbalanced_design(sigmas):
    rng = np.random.default_rng(7)
    own = _own(RUNS, CASES, rng)
    values = _draw(sigmas, RUNS, CASES, own, rng, designs=4000)
    raw = variance.vm_moments(values, own, np.repeat(np.arange(len(RUNS)), RUNS))
    for name, sigma in sigmas.items():
        mean, error = raw[name].mean(), raw[name].std() / np.sqrt(raw[name].size)
        assert abs(mean - sigma**2) < 4 * error + 1e-7, (name, mean, sigma**2)


def _hosts(values: np.ndarray, own: np.ndarray, runs: tuple[int, ...], cpu_model: str = "intel-6-167",
           source: str = "gate artifacts") -> list[variance.Host]:
    """One host record per VM, its runs a process each, every figure the same values."""
    hosts, column = [], 0
    for index, n in enumerate(runs):
        processes = []
        for _ in range(n):
            measured = {f"case{c}": [(float(values[c, column]), float(np.sqrt(own[c, column])))]
                        for c in range(values.shape[0])}
            processes.append({figure: variance.Run(measured) for figure in variance.FIGURES})
            column += 1
        hosts.append(variance.Host(f"{cpu_model}-vm{index}", "x86_64-amx-2c", cpu_model, processes, source,
                                   f"boot{index}"))
    return hosts


def _fit(sigmas: dict[str, float], runs: tuple[int, ...], seed: int) -> variance.VmFit:
    rng = np.random.default_rng(seed)
    own = _own(runs, CASES, rng)
    hosts = _hosts(_draw(sigmas, runs, CASES, own, rng)[0], own, runs)
    fit = variance.vm_components([[h] for h in hosts], "speedup", seed=seed, draws=200)
    assert fit is not None and fit.design == variance.VmDesign(CASES, runs)
    return fit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_known_host_shift_lies_in_its_interval(seed):
    sigmas = {"vm": 0.02, "vm_case": 0.005, "process": 0.005, "interaction": 0.01}
    fit = _fit(sigmas, (2,) * 10, seed)
    estimate, low, high = fit.components.vm
    assert low <= sigmas["vm"] <= high and 0.01 < estimate < 0.03
    assert low > 0.005  # ten VMs tell a 2% host shift from none
    assert abs(fit.components.interaction[0] - sigmas["interaction"]) < 0.004
    _, low, high = fit.components.tau  # a case on a fresh VM: the four parts together
    assert low <= np.sqrt(sum(s**2 for s in sigmas.values())) <= high


@pytest.mark.parametrize("seed", [0, 1])
def test_no_host_shift_is_found_where_there_is_none_even_beside_a_loud_process(seed):
    sigmas = {"vm": 0.0, "vm_case": 0.0, "process": 0.02, "interaction": 0.01}
    ten = _fit(sigmas, (2,) * 10, seed).components
    assert ten.vm[1] == 0.0 and ten.vm[0] < 0.012  # the process's 2% is not taken for a VM's
    assert ten.vm_case[1] == 0.0 and ten.vm_case[0] < 0.005
    three = _fit(sigmas, (2, 2, 1), seed).components
    assert three.vm[1] == 0.0 and three.vm[2] > 0.02  # three VMs: the interval is wide, and says so


def test_hosts_group_by_cpu_model_source_and_vm_and_one_vm_is_no_group():
    rng = np.random.default_rng(0)
    own = _own((2, 1), 4, rng)
    values = rng.normal(0.4, 0.01, (4, 3))
    two_vms = _hosts(values, own, (2, 1))
    probe = _hosts(values, own, (2, 1), source="probe")
    other = _hosts(values, own, (2, 1), cpu_model="amd-26-2")
    one_vm = [variance.Host("amd-25-17", "k", "amd-25-17", two_vms[0].runs, "probe", "boot9")]
    same_vm = [variance.Host(f"{two_vms[0].name} again", "x86_64-amx-2c", "intel-6-167", two_vms[1].runs,
                             "gate artifacts", "boot0")]
    groups = variance.vm_groups([*two_vms, *probe, *other, *one_vm, *same_vm])
    assert [[[h.name for h in vm] for vm in g] for g in groups] == [
        [["intel-6-167-vm0", "intel-6-167-vm0 again"], ["intel-6-167-vm1"]],
        [["intel-6-167-vm0"], ["intel-6-167-vm1"]],
        [["amd-26-2-vm0"], ["amd-26-2-vm1"]],
    ]
    # a VM's records pool their runs; no VM with two runs leaves the within-VM parts unknown
    values, _, vm = variance.vm_table(groups[0], "speedup")
    assert values.shape == (4, 4) and list(vm) == [0, 0, 0, 1]
    assert variance.vm_components([[h] for h in _hosts(values[:, :2], own[:, :2], (1, 1))], "speedup") is None


def test_the_renderer_shows_the_vms_of_one_cpu_model():
    runs = (2, 1)
    rng = np.random.default_rng(1)
    own = _own(runs, 6, rng)
    fit = variance.vm_components([[h] for h in _hosts(rng.normal(0.4, 0.01, (6, 3)), own, runs)], "speedup", draws=50)
    data = {"records": ["a.json"], "when": "2026-12-06T18:00:00+00:00", "minutes": 0.1, "load_before": [1, 1, 1],
            "load_after": [1, 1, 1], "beside": "",
            "machine": {"brand": "Intel", "cpu_model": "intel-6-167", "hardware_key": "x86_64-amx-2c",
                        "physical_cores": 2, "logical_cores": 2},
            "figures": {"speedup": {"hosts": [], "offsets": [], "vms": [asdict(fit)]}}}
    text = render_variance(Result("bench/results/variance.json", data))
    assert "| cpu speedup | intel-6-167, `x86_64-amx-2c` (gate artifacts) | 2: 2 + 1 runs x 6 cases |" in text
    assert "`intel-6-167-vm0`, `intel-6-167-vm1`" in text
