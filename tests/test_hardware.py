from __future__ import annotations

import pytest

from pytest_qbench.hardware import Hardware, detect, hardware_from_cpuinfo, normalise_flags

EPYC = {  # as py-cpuinfo reports this machine kind: both spellings of VNNI
    "brand_raw": "AMD EPYC 9B14",
    "arch": "X86_64",
    "count": 2,
    "flags": ["sse4_2", "avx", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512vnni",
              "avx512_vnni", "avx512_bf16", "avxvnni", "fma"],
}
SAPPHIRE_RAPIDS = {
    "brand_raw": "Intel(R) Xeon(R) Platinum 8480+", "arch": "X86_64", "count": 8,
    "flags": ["AVX2", "AVX512F", "avx512bw", "avx512vl", "avx512vnni", "amx-tile", "amxint8",
              "AMX_BF16", "avx512bf16"],
}
GITHUB_RUNNER = {"brand_raw": "AMD EPYC 7763", "arch": "X86_64", "count": 4, "flags": ["avx", "avx2", "fma"]}
GRAVITON = {
    "brand_raw": "", "arch": "ARM_8", "arch_string_raw": "aarch64", "count": 4,
    "flags": ["fp", "asimd", "asimddp", "i8mm", "sve", "crc32"],
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["avx512vnni", "avx512_vnni", "AVX512_VNNI"], ("avx512_vnni",)),
        (["avx512bf16"], ("avx512_bf16",)),
        (["avxvnni", "avx-vnni"], ("avx_vnni",)),
        (["amx-tile", "amxtile", "AMX_TILE"], ("amx_tile",)),
        (["amx-int8", "amx-bf16"], ("amx_bf16", "amx_int8")),
        (["neon", "asimd", "dotprod"], ("asimd", "asimddp")),
        (["avx2", " ", "sse4_2"], ("avx2", "sse4_2")),
    ],
)
def test_normalise_flags_unifies_spellings(raw: list[str], expected: tuple[str, ...]) -> None:
    assert normalise_flags(raw) == expected


def test_epyc_key_and_preset() -> None:
    hw = hardware_from_cpuinfo(EPYC, physical_cores=2)
    assert hw.int8_flags == ("avx2", "avx512_bf16", "avx512_vnni", "avx512bw", "avx512f", "avx512vl", "avx_vnni")
    assert hw.key == "x86_64-avx2+avx512_bf16+avx512_vnni+avx512bw+avx512f+avx512vl+avx_vnni-2c"
    assert hw.preset == "avx512_vnni"
    assert "fma" in hw.flags and "fma" not in hw.int8_flags


def test_key_ignores_spelling_order_brand_and_logical_cores() -> None:
    shuffled = {**EPYC, "brand_raw": "other", "count": 4,
                "flags": [f.upper() for f in reversed(EPYC["flags"])] + ["avx512_vnni"]}
    assert hardware_from_cpuinfo(shuffled, 2).key == hardware_from_cpuinfo(EPYC, 2).key
    assert hardware_from_cpuinfo(EPYC, 4).key != hardware_from_cpuinfo(EPYC, 2).key


@pytest.mark.parametrize(
    ("info", "preset", "key"),
    [
        (SAPPHIRE_RAPIDS, "avx512_vnni",
         "x86_64-amx_bf16+amx_int8+amx_tile+avx2+avx512_bf16+avx512_vnni+avx512bw+avx512f+avx512vl-4c"),
        ({**SAPPHIRE_RAPIDS, "flags": ["avx2", "avx512f", "avx512bw"]}, "avx512", "x86_64-avx2+avx512bw+avx512f-4c"),
        (GITHUB_RUNNER, "avx2", "x86_64-avx2-4c"),
        ({**GITHUB_RUNNER, "flags": ["sse4_2"]}, "avx2", "x86_64-baseline-4c"),
        (GRAVITON, "arm64", "arm64-asimd+asimddp+i8mm-4c"),
    ],
)
def test_preset_follows_instruction_set(info: dict, preset: str, key: str) -> None:
    hw = hardware_from_cpuinfo(info, physical_cores=4)
    assert (hw.preset, hw.key) == (preset, key)


def test_missing_fields_and_core_fallback() -> None:
    hw = hardware_from_cpuinfo({"arch_string_raw": "aarch64"})
    assert (hw.arch, hw.brand, hw.flags, hw.physical_cores, hw.logical_cores) == ("arm64", "unknown", (), 1, 1)
    assert hardware_from_cpuinfo({"count": 8}).physical_cores == 8


def test_to_dict_is_json_ready() -> None:
    data = hardware_from_cpuinfo(GRAVITON, 4).to_dict()
    assert data["key"] == "arm64-asimd+asimddp+i8mm-4c" and data["preset"] == "arm64"
    assert isinstance(data["flags"], list) and data["int8_flags"] == ["asimd", "asimddp", "i8mm"]


def test_detect_this_machine() -> None:
    hw = detect()
    assert isinstance(hw, Hardware)
    assert hw.physical_cores >= 1 and hw.logical_cores >= hw.physical_cores
    assert hw.preset in ("avx512_vnni", "avx512", "avx2", "arm64")
