"""Which CPU the numbers were measured on, reduced to what matters for int8 kernels.

Baselines are keyed by `Hardware.key`: two machines share latency baselines when they share the
architecture, the int8-relevant instruction sets and the physical core count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

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

INT8_FLAGS = frozenset({
    "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16",
    "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "i8mm",
})

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
    def key(self) -> str:
        return f"{self.arch}-{'+'.join(self.int8_flags) or 'baseline'}-{self.physical_cores}c"

    @property
    def preset(self) -> str:
        """The optimum `AutoQuantizationConfig` preset for this instruction set."""
        if self.arch == "arm64":
            return "arm64"
        if "avx512_vnni" in self.flags and "avx512f" in self.flags:
            return "avx512_vnni"
        if "avx512f" in self.flags:
            return "avx512"
        # avx2 is also the least demanding x86 preset: onnxruntime picks its kernels at run time.
        return "avx2"

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "flags": list(self.flags),
            "int8_flags": list(self.int8_flags),
            "key": self.key,
            "preset": self.preset,
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
