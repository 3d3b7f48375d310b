from __future__ import annotations

import pytest

from pytest_qbench.hardware import Hardware, detect, hardware_from_cpuinfo, normalise_flags
from pytest_qbench.results import QuantizationRecord

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


SKYLAKE_SP = {  # the second CPU class seen here: AVX-512 without VNNI
    "brand_raw": "Intel(R) Xeon(R) CPU @ 2.00GHz", "arch": "X86_64", "count": 2,
    "flags": ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"],
}
ALDER_LAKE = {"brand_raw": "12th Gen Intel(R) Core(TM) i7-12700", "arch": "X86_64", "count": 4,
              "flags": ["avx2", "avxvnni", "fma"]}


def test_epyc_key_and_preset() -> None:
    hw = hardware_from_cpuinfo(EPYC, physical_cores=2)
    assert hw.int8_flags == ("avx2", "avx512_vnni", "avx512bw", "avx512f", "avx512vl", "avx_vnni")
    assert "avx512_bf16" in hw.flags
    assert hw.key == "x86_64-avx512_vnni-2c"
    assert hw.preset == "avx512_vnni" and not hw.saturates_u8s8
    assert "fma" in hw.flags and "fma" not in hw.int8_flags


def test_flags_no_int8_kernel_reads_stay_out_of_the_key() -> None:
    """A fleet whose CPU model changes from job to job must still match: bf16, the brand and the
    logical core count do not pick onnxruntime's int8 kernels."""
    without_bf16 = {**EPYC, "brand_raw": "AMD EPYC 7B13", "count": 4,
                    "flags": [f for f in EPYC["flags"] if "bf16" not in f]}
    assert hardware_from_cpuinfo(without_bf16, 2).key == hardware_from_cpuinfo(EPYC, 2).key
    assert hardware_from_cpuinfo(SKYLAKE_SP, 2).key != hardware_from_cpuinfo(EPYC, 2).key


def test_key_ignores_spelling_order_brand_and_logical_cores() -> None:
    shuffled = {**EPYC, "brand_raw": "other", "count": 4,
                "flags": [f.upper() for f in reversed(EPYC["flags"])] + ["avx512_vnni"]}
    assert hardware_from_cpuinfo(shuffled, 2).key == hardware_from_cpuinfo(EPYC, 2).key
    assert hardware_from_cpuinfo(EPYC, 4).key != hardware_from_cpuinfo(EPYC, 2).key


@pytest.mark.parametrize(
    ("info", "preset", "key", "saturates"),
    [
        (SAPPHIRE_RAPIDS, "avx512_vnni", "x86_64-amx-4c", False),
        ({**SAPPHIRE_RAPIDS, "flags": ["avx2", "avx512f", "avx512bw"]}, "avx512", "x86_64-avx512-4c", True),
        (SKYLAKE_SP, "avx512", "x86_64-avx512-4c", True),
        (ALDER_LAKE, "avx2", "x86_64-avx_vnni-4c", False),
        (GITHUB_RUNNER, "avx2", "x86_64-avx2-4c", True),
        ({**GITHUB_RUNNER, "flags": ["sse4_2"]}, "avx2", "x86_64-baseline-4c", True),
        (GRAVITON, "arm64", "arm64-i8mm-4c", False),
        ({**GRAVITON, "flags": ["asimd"]}, "arm64", "arm64-neon-4c", False),
    ],
)
def test_tier_key_preset_and_saturation_follow_the_instruction_set(
    info: dict, preset: str, key: str, saturates: bool
) -> None:
    hw = hardware_from_cpuinfo(info, physical_cores=4)
    assert (hw.preset, hw.key, hw.saturates_u8s8) == (preset, key, saturates)


@pytest.mark.parametrize(
    ("record", "remedy", "risky"),
    [
        (QuantizationRecord("avx512", {"MatMulInteger": 6}, [], None, "uint8", "int8"), "none", True),
        (QuantizationRecord("avx512", {"MatMulInteger": 6}, [], None, "uint8", "int8"), "x64quantprecision", False),
        (
            QuantizationRecord("avx512", {"MatMulInteger": 6}, [], None, "uint8", "int8", reduce_range=True),
            "none",
            False,
        ),
        (QuantizationRecord("avx2", {"MatMulInteger": 6}, [], None, "uint8", "uint8"), "none", False),
        (QuantizationRecord("avx512", {}, [], "quantized nothing", "uint8", "int8"), "none", False),
    ],
)
def test_saturation_risk_needs_u8s8_weights_on_a_saturating_cpu(record, remedy: str, risky: bool) -> None:
    assert hardware_from_cpuinfo(SKYLAKE_SP, 2).saturation_risk(record, remedy) is risky
    assert hardware_from_cpuinfo(EPYC, 2).saturation_risk(record, remedy) is False


def test_missing_fields_and_core_fallback() -> None:
    hw = hardware_from_cpuinfo({"arch_string_raw": "aarch64"})
    assert (hw.arch, hw.brand, hw.flags, hw.physical_cores, hw.logical_cores) == ("arm64", "unknown", (), 1, 1)
    assert hardware_from_cpuinfo({"count": 8}).physical_cores == 8


def test_to_dict_is_json_ready() -> None:
    data = hardware_from_cpuinfo(GRAVITON, 4).to_dict()
    assert data["key"] == "arm64-i8mm-4c" and data["preset"] == "arm64" and data["tier"] == "i8mm"
    assert isinstance(data["flags"], list) and data["int8_flags"] == ["asimd", "asimddp", "i8mm"]


def test_detect_this_machine() -> None:
    hw = detect()
    assert isinstance(hw, Hardware)
    assert hw.physical_cores >= 1 and hw.logical_cores >= hw.physical_cores
    assert hw.preset in ("avx512_vnni", "avx512", "avx2", "arm64")


def _topology(root, cpus: dict[int, tuple[str, str]]):
    for cpu, (package, core) in cpus.items():
        folder = root / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "physical_package_id").write_text(package + "\n")
        (folder / "core_id").write_text(core + "\n")
    return root


def test_usable_cores_counts_smt_siblings_once(tmp_path, monkeypatch):
    import os

    from pytest_qbench.hardware import usable_cores

    sys_cpu = _topology(tmp_path / "cpu", {0: ("0", "0"), 1: ("0", "0"), 2: ("0", "1"), 3: ("0", "1")})
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert usable_cores(sys_cpu, tmp_path / "no-cgroup") == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert usable_cores(sys_cpu, tmp_path / "no-cgroup") == 1


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", 8)],
)
def test_usable_cores_is_capped_by_the_cgroup_quota(tmp_path, monkeypatch, cpu_max, expected):
    """A runner pod given 2 CPUs on a 64-core node counts 2, not 64; a fraction rounds up."""
    import os

    from pytest_qbench.hardware import usable_cores

    sys_cpu = _topology(tmp_path / "cpu", {i: ("0", str(i)) for i in range(8)})
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "cpu.max").write_text(cpu_max)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert usable_cores(sys_cpu, cgroup) == expected


def test_cgroup_v1_quota(tmp_path):
    from pytest_qbench.hardware import cgroup_cpu_quota

    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_quota(tmp_path) is None


def test_fingerprint_names_the_cpu_model():
    from pytest_qbench.hardware import fingerprint

    info = {"vendor_id_raw": "GenuineIntel", "family": 6, "model": 106, "stepping": 6}
    found = fingerprint(info)
    assert (found.family, found.model, found.stepping) == (6, 106, 6)
    assert found.cpu_model == "intel-6-106"
    assert found.to_dict()["cpu_model"] == "intel-6-106"
    assert found.kernel and found.onnxruntime


@pytest.mark.parametrize(
    ("key", "candidates", "expected"),
    [
        ("x86_64-amx-2c", ["x86_64-avx2-2c", "x86_64-avx512_vnni-2c"], "x86_64-avx512_vnni-2c"),
        (
            "x86_64-avx512_vnni-2c",
            ["x86_64-amx-2c", "x86_64-avx512-2c"],
            "x86_64-amx-2c",
        ),  # equal distance: the better tier
        ("x86_64-avx2-4c", ["x86_64-avx2-2c", "x86_64-avx512-4c"], "x86_64-avx2-2c"),  # the tier before the cores
        ("x86_64-avx2-4c", ["x86_64-avx2-2c", "x86_64-avx2-8c", "x86_64-avx2-16c"], "x86_64-avx2-2c"),
        ("arm64-i8mm-4c", ["x86_64-avx2-4c", "arm64-neon-2c"], "arm64-neon-2c"),  # the architecture first
        ("x86_64-avx2-2c", ["ci-runner", "x86_64-amx-2c"], "x86_64-amx-2c"),  # a hook's own key last
        ("x86_64-avx2-2c", [], None),
    ],
)
def test_nearest_key_prefers_the_architecture_then_the_nearest_tier(key, candidates, expected):
    from pytest_qbench.hardware import nearest_key

    assert nearest_key(key, candidates) == expected
