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

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

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

    def saturation_risk(self, record: "QuantizationRecord", remedy: str) -> bool:
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
    """Probe this machine. Costs about a second (py-cpuinfo does not cache): call once per session."""
    import cpuinfo
    import psutil

    return hardware_from_cpuinfo(cpuinfo.get_cpu_info(), psutil.cpu_count(logical=False))
