"""Which CPU the numbers were measured on, reduced to what matters for int8 kernels.

Baselines are keyed by `Hardware.key`: `{arch}-{tier}-{physical cores}c`, e.g. `x86_64-avx512_vnni-2c`.
The tier is the int8 kernel class onnxruntime's MLAS dispatches to by CPUID at run time (AMX, AVX-512
VNNI, AVX-512 without VNNI, AVX-VNNI, AVX2; on arm64 i8mm, dot-product, NEON). Two machines share
latency baselines when they share the architecture, the tier and the physical core count: that is what
decides which kernels run and how many run at once. Flags that no int8 or fp32 kernel of onnxruntime
reads (avx512_bf16, the CPU model, the clock) stay out of the key, so a CI fleet whose CPU model
changes from job to job still matches from one run to the next; what they move inside a tier is left
to the latency tolerance (docs/RESULTS.md, "Which CPUs share baselines").
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import QuantizationRecord

# Canonical spellings, looked up by the flag with separators removed: py-cpuinfo reports the same
# feature as `avx512vnni` (CPUID path) or `avx512_vnni` (/proc/cpuinfo), others use `amx-tile`.
_CANONICAL = {
    name.replace("_", ""): name
    for name in (
        "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx512_vbmi2", "avx512_bitalg",
        "avx512_vpopcntdq", "avx512_4vnniw", "avx512_4fmaps", "avx_vnni", "avx_vnni_int8",
        "amx_tile", "amx_int8", "amx_bf16", "amx_fp16",
    )
}
# Same feature, different names: AArch64 Advanced SIMD is NEON; Linux calls dot-product `asimddp`.
_ALIASES = {"neon": "asimd", "dotprod": "asimddp"}

# The flags the tiers below are read from, reported beside the key (bf16 is no int8 kernel's).
INT8_FLAGS = frozenset({
    "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
    "amx_tile", "amx_int8", "asimd", "asimddp", "i8mm",
})

# Best first; a tier needs all its flags. MLAS runs u8s8 GEMMs with VNNI (vpdpbusd) or AMX where the
# CPU has them, and else with vpmaddubsw, whose 16-bit intermediate saturates (the "no VNNI" tiers).
_TIERS = {
    "x86_64": (
        ("amx", {"amx_tile", "amx_int8"}),
        ("avx512_vnni", {"avx512f", "avx512bw", "avx512_vnni"}),
        ("avx512", {"avx512f", "avx512bw"}),
        ("avx_vnni", {"avx2", "avx_vnni"}),
        ("avx2", {"avx2"}),
    ),
    "arm64": (("i8mm", {"i8mm"}), ("dotprod", {"asimddp"}), ("neon", {"asimd"})),
}
SATURATING_TIERS = frozenset({"avx512", "avx2", "baseline"})  # x86 u8s8 through vpmaddubsw

_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "arm_8": "arm64", "aarch64": "arm64", "arm64": "arm64"}


def nearest_key(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate hardware key nearest to `key`: the same architecture first, then the nearest
    int8 tier (AVX-512 VNNI is nearer to AMX than AVX2 is; at equal distance the better tier), then
    the nearest core count; None without candidates. Keys not of the `{arch}-{tier}-{n}c` form
    (a hook's own) come last, alphabetically."""

    def parts(k: str) -> tuple[str, int, int] | None:
        arch, _, rest = k.partition("-")
        tier, _, cores = rest.rpartition("-")
        order = [name for name, _ in _TIERS.get(arch, ())] + ["baseline"]
        if tier not in order or not cores.endswith("c") or not cores[:-1].isdigit():
            return None
        return arch, order.index(tier), int(cores[:-1])

    mine = parts(key)

    def distance(candidate: str) -> tuple[int, int, int, int, str]:
        theirs = parts(candidate)
        if mine is None or theirs is None:
            return (2, 0, 0, 0, candidate)
        return (int(theirs[0] != mine[0]), abs(theirs[1] - mine[1]), theirs[1], abs(theirs[2] - mine[2]), candidate)

    return min(candidates, key=distance, default=None)


def normalise_flag(flag: str) -> str:
    flag = flag.strip().lower().replace("-", "_")
    flag = _CANONICAL.get(flag.replace("_", ""), flag)
    return _ALIASES.get(flag, flag)


def normalise_flags(flags: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({normalise_flag(f) for f in flags if f.strip()}))


def normalise_arch(arch: str) -> str:
    arch = arch.strip().lower()
    return _ARCHES.get(arch, arch or "unknown")


@dataclass(frozen=True)
class Hardware:
    brand: str
    arch: str
    flags: tuple[str, ...]
    physical_cores: int
    logical_cores: int

    @property
    def int8_flags(self) -> tuple[str, ...]:
        return tuple(f for f in self.flags if f in INT8_FLAGS)

    @property
    def tier(self) -> str:
        """The int8 kernel class onnxruntime runs here; "baseline" below AVX2 / NEON."""
        flags = set(self.flags)
        return next((name for name, needs in _TIERS.get(self.arch, ()) if needs <= flags), "baseline")

    @property
    def key(self) -> str:
        return f"{self.arch}-{self.tier}-{self.physical_cores}c"

    @property
    def saturates_u8s8(self) -> bool:
        """Whether onnxruntime multiplies u8 activations by s8 weights with a 16-bit intermediate
        that can saturate (x86 without VNNI or AMX): U8S8 models may lose accuracy here."""
        return self.arch == "x86_64" and self.tier in SATURATING_TIERS

    @property
    def preset(self) -> str:
        """The optimum `AutoQuantizationConfig` preset for this instruction set."""
        if self.arch == "arm64":
            return "arm64"
        if self.tier in ("amx", "avx512_vnni"):
            return "avx512_vnni"
        if self.tier == "avx512":
            return "avx512"
        # avx2 is also the least demanding x86 preset: onnxruntime picks its kernels at run time.
        return "avx2"

    def saturation_risk(self, record: QuantizationRecord, remedy: str) -> bool:
        """Whether a quantized model runs on the saturating u8s8 kernels here, unremedied."""
        return self.saturates_u8s8 and record.u8s8 and bool(record.quantized_ops) and remedy != "x64quantprecision"

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "flags": list(self.flags),
            "int8_flags": list(self.int8_flags),
            "tier": self.tier,
            "key": self.key,
            "preset": self.preset,
            "saturates_u8s8": self.saturates_u8s8,
        }


def hardware_from_cpuinfo(info: Mapping[str, Any], physical_cores: int | None = None) -> Hardware:
    """Build a `Hardware` from a `cpuinfo.get_cpu_info()` dict (pure: tests pass fake dicts)."""
    logical = int(info.get("count") or 1)
    return Hardware(
        brand=str(info.get("brand_raw") or "unknown"),
        arch=normalise_arch(str(info.get("arch") or info.get("arch_string_raw") or "")),
        flags=normalise_flags(info.get("flags") or ()),
        physical_cores=physical_cores or logical,
        logical_cores=logical,
    )


def detect() -> Hardware:
    """Probe this machine (py-cpuinfo takes about a second, once per process)."""
    return hardware_from_cpuinfo(cpu_info(), usable_cores())


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict[str, Any]:
    """`cpuinfo.get_cpu_info()`, read once per process: it costs about a second and does not cache."""
    import cpuinfo

    info: dict[str, Any] = cpuinfo.get_cpu_info()
    return info


_SYS_CPU = Path("/sys/devices/system/cpu")
_CGROUP = Path("/sys/fs/cgroup")


def usable_cores(sys_cpu: Path = _SYS_CPU, cgroup: Path = _CGROUP) -> int:
    """The physical cores this process may run on: the CPUs of its affinity mask, SMT siblings
    counted once, capped by the cgroup's CPU quota (a runner pod on a 64-core node gets its 2).
    Rounded up: a quota of 1.5 CPUs still runs two threads at once."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    cores = {_core_of(cpu, sys_cpu) for cpu in cpus}
    quota = cgroup_cpu_quota(cgroup)
    count = len(cores) if quota is None else min(len(cores), math.ceil(quota))
    return max(count, 1)


def _core_of(cpu: int, sys_cpu: Path) -> tuple[str, str] | int:
    topology = sys_cpu / f"cpu{cpu}" / "topology"
    try:
        return (topology / "physical_package_id").read_text().strip(), (topology / "core_id").read_text().strip()
    except OSError:  # no sysfs (macOS, some containers): each CPU its own core
        return cpu


def cgroup_cpu_quota(cgroup: Path = _CGROUP) -> float | None:
    """CPUs' worth of time the cgroup may use per period (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`), or None."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if quota in ("max", "-1") or not quota.lstrip("-").isdigit() or int(period) <= 0:
        return None
    return int(quota) / int(period)


@dataclass(frozen=True)
class Fingerprint:
    """Which CPU and software a host has beyond its hardware key: what tells two hosts of one key
    apart when their latencies differ (docs/BENCHMARKS.md, "Between runs, hosts and CPU models")."""

    vendor: str  # "AuthenticAMD", "GenuineIntel", ...
    family: int | None
    model: int | None
    stepping: int | None
    microcode: str | None
    caches: dict[str, str]  # "L1d", "L1i", "L2", "L3" -> size as the kernel states it ("48K")
    kernel: str
    onnxruntime: str
    boot: str  # a short hash of this boot's id: runs of one VM instance share it, a fresh VM does not

    @property
    def cpu_model(self) -> str:
        """The CPU model as baselines group latency samples: vendor, family and model number."""
        vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(self.vendor, self.vendor.lower() or "unknown")
        return f"{vendor}-{self.family}-{self.model}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cpu_model": self.cpu_model}


def fingerprint(info: Mapping[str, Any] | None = None) -> Fingerprint:
    """This host's fingerprint; `info` is a `cpuinfo.get_cpu_info()` dict (read here when None)."""
    if info is None:
        info = cpu_info()
    try:
        onnxruntime = metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        onnxruntime = "not installed"
    return Fingerprint(
        vendor=str(info.get("vendor_id_raw") or "unknown"),
        family=info.get("family"),
        model=info.get("model"),
        stepping=info.get("stepping"),
        microcode=_proc_cpuinfo_field("microcode"),
        caches=_caches(),
        kernel=platform.release(),
        onnxruntime=onnxruntime,
        boot=_boot_hash(),
    )


def _proc_cpuinfo_field(name: str) -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    found = re.search(rf"^{name}\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else None


def _caches(sys_cpu: Path = _SYS_CPU) -> dict[str, str]:
    caches = {}
    for index in sorted((sys_cpu / "cpu0" / "cache").glob("index*")):
        try:
            level, kind, size = ((index / f).read_text().strip() for f in ("level", "type", "size"))
        except OSError:
            continue
        caches[f"L{level}" + {"Data": "d", "Instruction": "i"}.get(kind, "")] = size
    return caches


def _boot_hash() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"
    return hashlib.sha256(boot.encode()).hexdigest()[:12]
