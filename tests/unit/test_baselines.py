import json
import multiprocessing
import os
from dataclasses import replace
from pathlib import Path

import pytest
from factories import HW, TEST, accuracy, latency_gate, make_result

from pytest_qbench import QbenchBaselineError
from pytest_qbench.atomic import atomic_write_text
from pytest_qbench.gate.baselines import BaselineStore, entry_from_result, file_stem
from pytest_qbench.gate.rules import judge
from pytest_qbench.results import Status
from pytest_qbench.specs import Tolerances

OTHER_HW = "x86_64-avx2-4c"


def flushed(root: Path, *results, hardware_key: str = HW) -> BaselineStore:
    store = BaselineStore(root)
    for result in results:
        store.stage(result.test, result.case_id, hardware_key, result)
    store.flush()
    return store


def test_file_name_is_the_test_key_made_safe(tmp_path):
    assert file_stem("examples/test_conll.py::test_ner") == "examples.test_conll.py--test_ner"
    assert file_stem("t.py::test_x[a b]") == "t.py--test_x_a_b_"
    assert BaselineStore(tmp_path).path_for(TEST) == tmp_path / "examples.test_conll.py--test_ner.json"


def test_round_trip(tmp_path):
    result = make_result()
    store = BaselineStore(tmp_path)
    store.stage(TEST, result.case_id, HW, result)
    report = store.flush()
    assert (report.created, report.updated, report.unchanged) == ([(TEST, result.case_id, HW)], [], [])

    match = BaselineStore(tmp_path).lookup(TEST, result.case_id, HW)
    assert match.values == entry_from_result(result)
    assert match.hardware_match and match.hardware_key == HW
    assert match.file == str(tmp_path / f"{file_stem(TEST)}.json")
    recorded = json.loads(Path(match.file).read_text())["cases"][result.case_id][HW]  # the file's layout
    assert recorded == match.values.to_json()
    assert recorded["accuracy"]["optimized"] == {"precision": 0.935, "recall": 0.943, "f1": 0.939, "accuracy": 0.988}
    latency = recorded["latency"]
    assert set(latency) == {"cpu", "original", "optimized", "wall_speedup", "runs"}
    assert latency["runs"] == [{
        "cpu_model": result.cpu_model, "run": result.run_id, "when": "",
        "speedup": latency["cpu"]["speedup"]["value"], "ci_low": latency["cpu"]["speedup"]["ci_low"],
        "ci_high": latency["cpu"]["speedup"]["ci_high"], "original_ms": latency["cpu"]["original_ms"],
        "optimized_ms": latency["cpu"]["optimized_ms"],
    }]
    # the gated signal: one-thread CPU time per call of each model and its speedup with the CI
    cpu = result.latency.cpu
    assert set(latency["cpu"]) == {"original_ms", "optimized_ms", "speedup"}
    assert latency["cpu"]["original_ms"] == pytest.approx(cpu.original_ms, rel=1e-6)
    assert latency["cpu"]["optimized_ms"] == pytest.approx(cpu.optimized_ms, rel=1e-6)
    assert latency["cpu"]["speedup"] == pytest.approx(
        {"value": cpu.speedup.value, "ci_low": cpu.speedup.ci_low, "ci_high": cpu.speedup.ci_high}, rel=1e-6
    )
    wall = result.latency.wall_speedup
    assert latency["wall_speedup"] == pytest.approx(
        {"value": wall.value, "ci_low": wall.ci_low, "ci_high": wall.ci_high}, rel=1e-6
    )
    assert latency["wall_speedup"]["value"] != latency["cpu"]["speedup"]["value"]  # two measurements, kept apart
    assert latency["optimized"]["mean_ms"] == 9.96
    assert recorded["parameters"] == result.parameters.recorded


def test_stable_formatting_and_no_rewrite_when_nothing_changed(tmp_path):
    result = make_result()
    store = flushed(tmp_path, result)
    path = store.path_for(TEST)
    text = path.read_text()
    doc = json.loads(text)
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    assert doc["schema_version"] == 4 and doc["test"] == TEST
    assert list(doc["cases"][result.case_id]) == [HW]
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)

    before = path.stat().st_mtime_ns
    store = BaselineStore(tmp_path)
    store.stage(TEST, result.case_id, HW, result)
    assert store.flush().unchanged == [(TEST, result.case_id, HW)]
    assert path.read_text() == text and path.stat().st_mtime_ns == before


def test_measured_numbers_are_rounded_to_six_significant_digits(tmp_path):
    result = make_result(original_ms=46.381234567)
    latency = flushed(tmp_path, result).lookup(TEST, result.case_id, HW).values.latency
    assert latency.original.mean_ms == 46.3812
    assert latency.cpu.original_ms == 74.21  # 1.6 x 46.381234567 = 74.2099753...
    assert latency.cpu.speedup.value == 4.65675  # 46.381234567 / 9.96 = 4.6567504...
    assert latency.wall_speedup.value == 4.88959  # 1.05 x that = 4.8895879...


def test_a_failed_measurement_cannot_be_staged(tmp_path):
    with pytest.raises(ValueError, match="no complete measurement"):
        BaselineStore(tmp_path).stage(TEST, "c", HW, make_result(error="boom"))


@pytest.mark.parametrize("content", ['{"schema_version": 4, "test": "examples/te', "", "\xff\xfe"])
def test_corrupt_file_is_a_clear_error_and_left_untouched(tmp_path, content):
    store = BaselineStore(tmp_path)
    path = store.path_for(TEST)
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(QbenchBaselineError, match="not valid JSON") as error:
        store.lookup(TEST, "c", HW)
    assert str(path) in str(error.value)

    store.stage(TEST, "c", HW, make_result())
    with pytest.raises(QbenchBaselineError, match=str(path)):
        store.flush()
    assert path.read_bytes() == content.encode("latin-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left behind


def test_future_schema_version_is_refused(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.path_for(TEST)
    path.write_text(json.dumps({"schema_version": 5, "test": TEST, "cases": {}}))
    with pytest.raises(QbenchBaselineError) as error:
        store.lookup(TEST, "c", HW)
    message = str(error.value)
    assert str(path) in message and "schema_version 5" in message and "reads schema_version 4 only" in message
    assert "upgrade pytest-qbench" in message


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_baseline_file_of_a_previous_schema_says_to_delete_and_re_create_it(tmp_path, version):
    # Schema 2 gated the wall-clock speedup ("latency.speedup"); its numbers mean something else now.
    store = BaselineStore(tmp_path)
    path = store.path_for(TEST)
    result = make_result()
    schema_2_latency = {"original": {}, "optimized": {}, "speedup": {"value": 4.66}}
    old_entry = {**entry_from_result(result).to_json(), "latency": schema_2_latency}
    path.write_text(json.dumps({"schema_version": version, "test": TEST, "cases": {result.case_id: {HW: old_entry}}}))
    with pytest.raises(QbenchBaselineError) as error:
        store.lookup(TEST, result.case_id, HW)
    message = str(error.value)
    assert f"has schema_version {version}; this pytest-qbench reads schema_version 4 only" in message
    assert "from an older pytest-qbench (whose hardware keys, parameters or latency fields differ)" in message
    assert "delete it, then re-create it with `pytest --qbench --qbench-update-baselines`" in message
    assert "upgrade pytest-qbench" not in message

    store = BaselineStore(tmp_path)
    store.stage(TEST, result.case_id, HW, result)
    with pytest.raises(QbenchBaselineError, match="schema_version"):
        store.flush()  # an update does not silently overwrite the old file either
    assert json.loads(path.read_text())["schema_version"] == version


@pytest.mark.parametrize(
    ("remove", "problem"),
    [
        (lambda latency: latency.pop("cpu"), "has no 'latency.cpu' object"),
        (lambda latency: latency["cpu"].pop("speedup"), "has no 'latency.cpu.speedup' object"),
        (
            lambda latency: latency["cpu"].pop("optimized_ms"),
            "has latency.cpu.optimized_ms = None, not a finite number",
        ),
        (
            lambda latency: latency["cpu"]["speedup"].pop("ci_low"),
            "has latency.cpu.speedup.ci_low = None, not a finite number",
        ),
        (lambda latency: latency.pop("wall_speedup"), "has no 'latency.wall_speedup' object"),
        (lambda latency: latency.pop("runs"), "has latency.runs that is not a non-empty list of runs"),  # schema 3's
    ],
)
def test_an_entry_without_the_latency_values_the_policy_compares_is_refused(tmp_path, remove, problem):
    result = make_result()
    path = flushed(tmp_path, result).path_for(TEST)
    doc = json.loads(path.read_text())
    remove(doc["cases"][result.case_id][HW]["latency"])
    path.write_text(json.dumps(doc))
    with pytest.raises(QbenchBaselineError) as error:
        BaselineStore(tmp_path).lookup(TEST, result.case_id, HW)
    assert f"the entry of case {result.case_id!r} under hardware key {HW!r} {problem}" in str(error.value)


def test_file_of_another_test_is_refused(tmp_path):
    store = BaselineStore(tmp_path)
    store.path_for(TEST).write_text(
        json.dumps({"schema_version": 4, "test": "examples/test_conll_py::test_ner", "cases": {}})
    )
    with pytest.raises(QbenchBaselineError, match="rename one of the tests"):
        store.lookup(TEST, "c", HW)


def test_missing_file_and_missing_case_find_nothing(tmp_path):
    match = BaselineStore(tmp_path).lookup(TEST, "c", HW)
    assert (match.values, match.hardware_key, match.hardware_match) == (None, None, False)
    assert not tmp_path.joinpath(f"{file_stem(TEST)}.json").exists()


def test_lookup_falls_back_to_another_hardware_key(tmp_path):
    result = make_result()
    store = flushed(tmp_path, result, hardware_key=OTHER_HW)
    match = store.lookup(TEST, result.case_id, HW)
    assert match.values == entry_from_result(result)
    assert (match.hardware_key, match.hardware_match) == (OTHER_HW, False)


def test_accuracy_falls_back_to_a_key_of_the_same_architecture_first(tmp_path):
    result = make_result()
    for key in ("arm64-i8mm-4c", "x86_64-avx2-4c"):
        flushed(tmp_path, result, hardware_key=key)
    assert BaselineStore(tmp_path).lookup(TEST, result.case_id, "x86_64-avx512-2c").hardware_key == "x86_64-avx2-4c"
    assert BaselineStore(tmp_path).lookup(TEST, result.case_id, "arm64-neon-2c").hardware_key == "arm64-i8mm-4c"


def test_update_of_a_subset_keeps_everything_else(tmp_path):
    a, b = make_result(), make_result(batch_size=4)
    flushed(tmp_path, a, b)
    flushed(tmp_path, a, hardware_key=OTHER_HW)
    path = BaselineStore(tmp_path).path_for(TEST)
    before = json.loads(path.read_text())

    faster = make_result(optimized_ms=8.0)
    store = BaselineStore(tmp_path)
    store.stage(TEST, a.case_id, HW, faster)
    store.stage(TEST, "static-Add-bs1-len32", HW, make_result(approach="static", operators=("Add",)))
    report = store.flush()
    assert report.updated == [(TEST, a.case_id, HW)]
    assert report.created == [(TEST, "static-Add-bs1-len32", HW)]

    after = json.loads(path.read_text())
    assert after["cases"][a.case_id][HW] == entry_from_result(faster).to_json()
    assert after["cases"][a.case_id][OTHER_HW] == before["cases"][a.case_id][OTHER_HW]
    assert after["cases"][b.case_id] == before["cases"][b.case_id]


def _write_cases(root: str, prefix: str, count: int, barrier) -> None:
    result = make_result()
    barrier.wait()
    for i in range(count):
        store = BaselineStore(root)
        store.stage(TEST, f"{prefix}-{i}", HW, result)
        store.flush()


def test_concurrent_writers_keep_each_others_cases(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    writers = [context.Process(target=_write_cases, args=(str(tmp_path), p, 15, barrier)) for p in ("a", "b")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0]
    cases = json.loads(BaselineStore(tmp_path).path_for(TEST).read_text())["cases"]
    assert sorted(cases) == sorted(f"{p}-{i}" for p in ("a", "b") for i in range(15))


def test_obtained_file_beside_the_baseline_for_review(tmp_path):
    base = make_result()
    store = flushed(tmp_path, base)
    baseline_text = store.path_for(TEST).read_text()
    worse = replace(base, accuracy_optimized=accuracy(0.8))
    other = make_result(batch_size=8)

    path = store.write_obtained(TEST, base.case_id, HW, worse)
    assert store.write_obtained(TEST, other.case_id, HW, other) == path
    assert path == tmp_path / f"{file_stem(TEST)}.obtained.json"
    doc = json.loads(path.read_text())
    assert doc["cases"][base.case_id][HW] == entry_from_result(worse).to_json()
    assert doc["cases"][other.case_id][HW] == entry_from_result(other).to_json()
    assert doc["test"] == TEST and doc["schema_version"] == 4
    assert store.path_for(TEST).read_text() == baseline_text


def test_unused_reports_the_cases_of_tests_that_ran(tmp_path):
    a, b, c = make_result(), make_result(batch_size=4), make_result(batch_size=8)
    other = replace(make_result(), test="examples/test_other.py::test_x")
    store = flushed(tmp_path, a, b, c, other)
    store.flush()
    used = {(TEST, a.case_id), (TEST, "a-case-without-baseline")}
    assert BaselineStore(tmp_path).unused(used) == sorted([(TEST, b.case_id), (TEST, c.case_id)])


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    atomic_write_text(path, "old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def _runs(store: BaselineStore, case_id: str) -> list[tuple[str, str]]:
    return [(r.cpu_model, r.run) for r in store.lookup(TEST, case_id, HW).runs]


def test_an_update_appends_its_run_to_the_sample_of_its_cpu_model(tmp_path):
    """Several update runs (or shard jobs on several VMs) build the sample the gate takes the median of."""
    for index in range(3):
        flushed(tmp_path, make_result(run_id=f"run-{index}", original_ms=46.0 + index))
    flushed(tmp_path, make_result(run_id="other-0", cpu_model="intel-6-106"))
    store = BaselineStore(tmp_path)
    case_id = make_result().case_id
    assert _runs(store, case_id) == [("amd-26-2", "run-0"), ("amd-26-2", "run-1"), ("amd-26-2", "run-2"),
                                      ("intel-6-106", "other-0")]
    # the entry's figures are the last run's
    assert store.lookup(TEST, case_id, HW).values.latency.cpu.original_ms == pytest.approx(46.38 * 1.6)


def test_each_cpu_model_keeps_its_last_runs_and_a_run_counts_once(tmp_path):
    for index in range(5):
        store = BaselineStore(tmp_path, keep_runs=3)
        store.stage(TEST, make_result().case_id, HW, make_result(run_id=f"run-{index}"))
        store.stage(TEST, make_result().case_id, HW, make_result(run_id=f"run-{index}"))  # the same run twice
        store.flush()
    flushed(tmp_path, make_result(run_id="other-0", cpu_model="intel-6-106"))
    assert _runs(BaselineStore(tmp_path), make_result().case_id) == [
        ("amd-26-2", "run-2"), ("amd-26-2", "run-3"), ("amd-26-2", "run-4"), ("intel-6-106", "other-0")]


def test_an_update_run_records_the_median_of_its_measurements(tmp_path):
    # The first look ran a slow int8 session, one fresh process a slow fp32 one (pipeline.to_confirm).
    from pytest_qbench.measure.stats import median_cpu

    result = make_result()
    cpu = result.latency.cpu
    measurements = [replace(cpu, optimized_ms=cpu.original_ms / v,
                            speedup=replace(cpu.speedup, value=v, ci_low=v * 0.99, ci_high=v * 1.01))
                    for v in (1.52, 1.69, 1.84)]
    latency = replace(result.latency, cpu=median_cpu(measurements), measurements=measurements)
    flushed(tmp_path, replace(result, latency=latency))
    recorded = BaselineStore(tmp_path).lookup(TEST, result.case_id, HW).values.latency
    assert [(r.speedup, r.optimized_ms) for r in recorded.runs] == [(1.69, pytest.approx(cpu.original_ms / 1.69))]
    assert (recorded.cpu.speedup.value, recorded.cpu.optimized_ms) == (1.69, pytest.approx(cpu.original_ms / 1.69))


def test_a_new_setup_or_a_restart_begins_a_new_sample(tmp_path):
    flushed(tmp_path, make_result(run_id="run-0"))
    flushed(tmp_path, make_result(run_id="run-1"))
    case_id = make_result().case_id
    assert len(_runs(BaselineStore(tmp_path), case_id)) == 2
    flushed(tmp_path, make_result(run_id="run-2", per_channel=True))  # other parameters: other numbers
    assert _runs(BaselineStore(tmp_path), make_result(per_channel=True).case_id) == [("amd-26-2", "run-2")]
    store = BaselineStore(tmp_path)
    store.stage(TEST, case_id, HW, make_result(run_id="run-3", per_channel=True), restart=True)
    store.flush()
    assert _runs(BaselineStore(tmp_path), case_id) == [("amd-26-2", "run-3")]


def test_samples_gather_every_case_of_a_key_across_files(tmp_path):
    flushed(tmp_path, make_result(), make_result(batch_size=4))
    other = replace(make_result(), test="examples/test_other.py::test_x", nodeid="examples/test_other.py::test_x[c]")
    flushed(tmp_path, other)
    flushed(tmp_path, make_result(sequence_length=64), hardware_key=OTHER_HW)
    samples = BaselineStore(tmp_path).samples(HW)
    assert sorted(samples) == sorted([(TEST, make_result().case_id), (TEST, make_result(batch_size=4).case_id),
                                      ("examples/test_other.py::test_x", other.case_id)])
    assert all(len(runs) == 1 for runs in samples.values())


def test_a_malformed_run_in_the_sample_is_a_clear_error(tmp_path):
    store = flushed(tmp_path, make_result())
    path = store.path_for(TEST)
    doc = json.loads(path.read_text())
    case_id = make_result().case_id
    doc["cases"][case_id][HW]["latency"]["runs"][0]["speedup"] = "fast"
    path.write_text(json.dumps(doc))
    with pytest.raises(QbenchBaselineError, match=r"latency.runs\[0\]"):
        BaselineStore(tmp_path).lookup(TEST, case_id, HW)


def test_an_update_over_an_entry_without_its_latency_judges_and_replaces_it(tmp_path):
    result = make_result()
    path = flushed(tmp_path, result).path_for(TEST)
    doc = json.loads(path.read_text())
    del doc["cases"][result.case_id][HW]["latency"]
    path.write_text(json.dumps(doc))
    baseline = BaselineStore(tmp_path).lookup(TEST, result.case_id, HW, check_entry=False)
    judgement = judge(result, baseline, Tolerances(), update=True, latency=latency_gate())
    assert (baseline.values, judgement.verdict, judgement.restart) == (None, Status.UPDATED, False)
    store = BaselineStore(tmp_path)
    store.stage(TEST, result.case_id, HW, result)
    assert store.flush().updated == [(TEST, result.case_id, HW)]
    assert BaselineStore(tmp_path).lookup(TEST, result.case_id, HW).values == entry_from_result(result)
