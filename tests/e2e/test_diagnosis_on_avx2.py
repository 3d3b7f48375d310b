"""The diagnosis's simulation of the integer kernels against onnxruntime's on qemu's AVX2 CPU (no VNNI),
whose u8s8 sums saturate (test_cpu_classes.py)."""

from __future__ import annotations

from pathlib import Path

from saturation import EXACT
from test_cpu_classes import EMULATED_AVX2, on_emulated_avx2


@EMULATED_AVX2
def test_on_a_cpu_without_vnni_the_kernels_saturate_and_the_simulation_does_not(tmp_path: Path):
    sums = on_emulated_avx2(
        "import saturation as t; from pytest_qbench.diagnose.diagnosis import simulation;"
        "from pytest_qbench.measure.ort_session import make_ort_session; model = t.saturating_matmul(folder, 'int8');"
        "feed = t.saturating_feed(); real = make_ort_session(model, 1).run(None, feed)[0][0, 0];"
        "sim = make_ort_session(simulation(model, folder), 1, optimize=False).run(None, feed)[0][0, 0];"
        "print(json.dumps({'real': int(real), 'simulated': int(sim)}))",
        tmp_path,
    )
    assert sums["simulated"] == EXACT > sums["real"], sums  # the pre-flight's "kernel" cause, for real
