"""Property and fuzz tests (hypothesis): results and baselines survive their round trips, the policy
is monotone with exact tolerance edges, and the baseline loader and the CoNLL reader fail on any input
with their own clear error, never another exception."""

from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path
from statistics import NormalDist

import pytest
from factories import CPU_MODEL, ENVIRONMENT, HW, TEST, latency_gate, looked_up, make_result
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from pytest_qbench import QbenchBaselineError, QbenchDataError, QbenchFlushError
from pytest_qbench.gate import rules
from pytest_qbench.gate.baselines import BaselineStore, entry_from_result, file_stem
from pytest_qbench.gate.latency_stats import SpeedupRule
from pytest_qbench.gate.spread import PRIOR_SPEEDUP_SIGMA, median_variance_factor
from pytest_qbench.measure.data import read_conll
from pytest_qbench.report.artifact import build_artifact, validate_artifact, write_artifact
from pytest_qbench.results import (
    AccuracyResult,
    BaselineRecord,
    CaseResult,
    Check,
    CpuTime,
    LabelMapEffect,
    LatencyResult,
    LatencyStats,
    MappedName,
    Parameters,
    QuantizationRecord,
    SpeedLine,
    Speedup,
    Status,
)
from pytest_qbench.specs import OPERATORS, CalibrationSpec, Tolerances, VariantSpec

# Modest by default, so the file runs in seconds; QBENCH_HYPOTHESIS_EXAMPLES=2000 searches longer.
# Applied per test, not as a global profile, so other modules' hypothesis settings stay theirs.
EXAMPLES = settings(
    max_examples=int(os.environ.get("QBENCH_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# ---- strategies --------------------------------------------------------------------------------

score = st.floats(0, 1)
positive = st.floats(1e-3, 1e6)
count = st.integers(1, 10**6)
text = st.text(max_size=30)
name = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


spans = st.integers(0, 10**5)
label_map_effects = st.builds(
    LabelMapEffect,
    st.sampled_from(["span", "sample"]),
    st.lists(st.builds(MappedName, name, name, spans, spans, spans, spans)),
)


@st.composite
def accuracies(draw) -> AccuracyResult:
    return AccuracyResult(
        draw(st.sampled_from(["token-classification", "text-classification"])),
        draw(score), draw(score), draw(score), draw(score), draw(st.sampled_from(["micro", "macro"])),
        draw(st.dictionaries(st.sampled_from(["PER", "ORG", "LOC", "MISC", "fresh"]), score)),
        draw(count), draw(st.sampled_from(["word", "sample"])), draw(count), draw(st.integers(0, 1000)),
        draw(st.sampled_from(["default", "strict"])), draw(st.floats(0, 1e4)), draw(st.none() | label_map_effects),
    )


@st.composite
def latency_stats(draw) -> LatencyStats:
    mean = draw(positive)
    return LatencyStats(
        mean,
        draw(st.floats(0, 1e3)),
        draw(st.floats(0, 10)),
        *sorted(draw(st.lists(positive, min_size=4, max_size=4))),
        draw(positive),
        draw(count),
    )


@st.composite
def speedups(draw) -> Speedup:
    low, value, high = sorted(draw(st.lists(st.floats(0.01, 100), min_size=3, max_size=3)))
    return Speedup(value, low, high, 0.95, draw(count))


@st.composite
def latencies(draw) -> LatencyResult:
    return LatencyResult(
        draw(latency_stats()), draw(latency_stats()), draw(speedups()),
        CpuTime(draw(positive), draw(positive), draw(speedups())),
        draw(st.sampled_from(["ci_width", "max_seconds"])), draw(st.integers(1, 64)), draw(st.floats(0, 1e4)),
    )


@st.composite
def variants(draw) -> VariantSpec:
    return VariantSpec(
        draw(st.sampled_from(["dynamic", "static"])),
        tuple(draw(st.lists(st.sampled_from(OPERATORS), min_size=1, max_size=4, unique=True))),
        opset=draw(st.integers(7, 21)),
        per_channel=draw(st.booleans()),
        calibration=CalibrationSpec(num_samples=draw(count)),
        nodes_to_exclude=tuple(draw(st.lists(name, max_size=3))),
    )


checks = st.builds(
    Check,
    text,
    st.sampled_from(["baseline", "original"]),
    st.sampled_from(["pass", "fail", "inconclusive", "skip", "error"]),
    st.none() | score,
    st.none() | score,
    text,
    text,
)


baselines = st.builds(
    BaselineRecord, text, st.none() | name, st.booleans(), st.none() | st.just(entry_from_result(make_result())),
    st.none() | st.just(latency_gate()), st.none() | st.floats(0.01, 1),
    speed_line=st.none() | st.builds(SpeedLine, name, name, st.floats(-1, 1), st.floats(0, 1), st.integers(10, 50)),
)


@st.composite
def results(draw, measured: bool | None = None) -> CaseResult:
    measured = draw(st.booleans()) if measured is None else measured
    variant = draw(variants())
    case_id = draw(name)
    return CaseResult(
        nodeid=f"{TEST}[{case_id}]",
        test=TEST,
        case_id=case_id,
        model=draw(name),
        batch_size=draw(st.integers(1, 64)),
        sequence_length=draw(st.integers(1, 512)),
        parameters=Parameters(variant.to_dict()),
        quantization=draw(
            st.none()
            | st.builds(QuantizationRecord, text, st.dictionaries(name, count), st.lists(name), st.none() | text)
        ),
        accuracy_original=draw(accuracies()) if measured else None,
        accuracy_optimized=draw(accuracies()) if measured else None,
        latency=draw(latencies()) if measured else None,
        baseline=draw(st.none() | baselines),
        checks=draw(st.lists(checks, max_size=3)),
        verdict=draw(st.sampled_from(Status)),
        error=None if measured else draw(text),
        cpu_model=draw(name),
        run_id=draw(name),  # a run's: its repeats of a case count once in a baseline
    )


# ---- round trips -------------------------------------------------------------------------------


@EXAMPLES
@given(results())
def test_case_result_json_round_trip(result: CaseResult):
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert CaseResult.from_json(data) == result
    assert CaseResult.from_json(data).to_json() == data


@EXAMPLES
@given(st.lists(results(), max_size=4))
def test_artifact_of_any_results_validates_and_reads_back(results_: list[CaseResult]):
    artifact = build_artifact(copy.deepcopy(ENVIRONMENT), results_)
    validate_artifact(artifact)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".qbench" / "results.json"
        write_artifact(path, artifact)
        assert json.loads(path.read_text()) == artifact
        assert [CaseResult.from_json(c) for c in json.loads(path.read_text())["cases"]] == results_


@EXAMPLES
@given(st.dictionaries(st.tuples(name, name), results(measured=True), min_size=1, max_size=5))
def test_baselines_stage_flush_lookup_round_trip(staged: dict[tuple[str, str], CaseResult]):
    with tempfile.TemporaryDirectory() as tmp:
        store = BaselineStore(tmp)
        for (case_id, hardware_key), result in staged.items():
            store.stage(TEST, case_id, hardware_key, result)
        report = store.flush()
        assert sorted(report.created) == sorted((TEST, c, h) for c, h in staged)
        path = store.path_for(TEST)
        text = path.read_text()

        again = BaselineStore(tmp)
        for (case_id, hardware_key), result in staged.items():
            match = again.lookup(TEST, case_id, hardware_key)
            assert match.values == entry_from_result(result) and match.hardware_match
            again.stage(TEST, case_id, hardware_key, result)
        assert sorted(again.flush().unchanged) == sorted(report.created)
        assert path.read_text() == text  # nothing rewritten
        assert [p.name for p in Path(tmp).iterdir()] == [path.name]  # no temp file left


@EXAMPLES
@given(st.text(max_size=200))
def test_baseline_file_names_are_safe_and_stable(test: str):
    stem = file_stem(test)
    assert stem == file_stem(test) and "/" not in stem and "\\" not in stem
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in stem)


@EXAMPLES
@given(st.floats(0, 1e6))
def test_rounding_to_six_digits_is_idempotent(value: float):
    result = make_result(original_ms=value + 1e-3)
    stored = entry_from_result(result).latency
    cpu = result.latency.cpu
    rounded = replace(result, latency=replace(
        result.latency,
        original=replace(result.latency.original, mean_ms=stored.original.mean_ms),
        cpu=replace(cpu, original_ms=stored.cpu.original_ms,
                    speedup=replace(cpu.speedup, value=stored.cpu.speedup.value)),
        wall_speedup=replace(result.latency.wall_speedup, value=stored.wall_speedup.value),
    ))
    assert entry_from_result(rounded).latency == stored


# ---- the policy: monotone, exact edges ---------------------------------------------------------

tolerances = st.builds(
    Tolerances,
    accuracy_atol=st.floats(0, 0.1), accuracy_rtol=st.floats(0, 0.1), max_loss=st.floats(0, 0.2),
    max_relative_loss=st.none() | st.floats(0, 0.5), speedup_rtol=st.floats(0, 0.5),
    cpu_time_rtol=st.none() | st.floats(0, 1), latency_rtol=st.none() | st.floats(0, 1),
)
RANK = {"fail": 0, "inconclusive": 1, "pass": 2}  # a worse measurement never moves up this order


def baseline_match(result: CaseResult, **accuracy: float) -> BaselineRecord:
    entry = entry_from_result(result)
    return looked_up(replace(entry, accuracy_optimized=replace(entry.accuracy_optimized, **accuracy)))


GATE = latency_gate(CPU_MODEL, cases=42)


def judge(*args, **kwargs):
    """rules.judge on the factories' CPU model, in a run of 42 cases."""
    return rules.judge(*args, latency=GATE, **kwargs)


def verdict(result: CaseResult, match: BaselineRecord, tol: Tolerances) -> str:
    return judge(result, match, tol).verdict


def f1_vs_baseline(checks: list[Check]) -> str:
    return next(c.status for c in checks if c.metric == "f1" and c.against == "baseline")


def with_f1(result: CaseResult, f1: float) -> CaseResult:
    return replace(result, accuracy_optimized=replace(result.accuracy_optimized, f1=f1))


@EXAMPLES
@given(score, score, score, tolerances)
def test_a_bigger_loss_vs_the_original_never_passes_where_a_smaller_one_fails(original, a, b, tol):
    worse, better = sorted((a, b))
    base = make_result(f1=(original, better))
    statuses = [judge(with_f1(base, f1), baseline_match(base), tol).checks[0] for f1 in (worse, better)]
    assert [c.metric for c in statuses] == ["f1", "f1"]
    if statuses[0].status == "pass":
        assert statuses[1].status == "pass"


@EXAMPLES
@given(score, score, score, tolerances)
def test_accuracy_closer_to_the_baseline_never_fails_where_farther_passes(expected, a, b, tol):
    # Accuracy gates both ways (a gain beyond tolerance means a stale baseline), so "better" is closer.
    far, near = sorted((a, b), key=lambda v: abs(v - expected), reverse=True)
    base = make_result()
    match = baseline_match(base, f1=expected)
    status = {v: f1_vs_baseline(judge(with_f1(base, v), match, tol).checks) for v in (far, near)}
    if status[far] == "pass":
        assert status[near] == "pass"


@EXAMPLES
@given(st.floats(0.05, 1), st.floats(0, 0.1), st.floats(0, 0.1))
def test_accuracy_tolerance_edges(expected, atol, rtol):
    tol = Tolerances(accuracy_atol=atol, accuracy_rtol=rtol)
    limit = atol + rtol * expected
    assume(expected - limit - 1e-6 >= 0)
    base = make_result()
    match = baseline_match(base, f1=expected)

    def status(f1: float) -> str:
        return f1_vs_baseline(judge(with_f1(base, f1), match, tol).checks)

    assert status(expected - limit) == "pass"  # at the tolerance, as written: passes
    assert status(expected + limit) == "pass"
    assert status(expected - limit - 1e-6) == "fail"
    assert status(expected + limit + 1e-6) == "fail"


@EXAMPLES
@given(st.floats(2, 50), st.floats(2, 50), st.floats(0, 0.2), tolerances)
def test_a_slower_optimized_model_never_gets_a_better_verdict_than_a_faster_one(fast_ms, slow_ms, width, tol):
    # Slower in wall clock and in CPU time alike (factories: cpu ms = 1.6 x wall ms), at the same CI width.
    fast_ms, slow_ms = sorted((fast_ms, slow_ms))
    baseline = baseline_match(make_result(original_ms=46.0, optimized_ms=10.0))

    def run(optimized_ms: float) -> CaseResult:
        value = 46.0 / optimized_ms
        return make_result(original_ms=46.0, optimized_ms=optimized_ms,
                           speedup_ci=(value * (1 - width), value * (1 + width)))

    slow, fast = verdict(run(slow_ms), baseline, tol), verdict(run(fast_ms), baseline, tol)
    assert {slow, fast} <= set(RANK)
    assert RANK[slow] <= RANK[fast]
    slow_checks, fast_checks = (judge(run(ms), baseline, tol).checks for ms in (slow_ms, fast_ms))
    statuses = [next((c.status for c in checks if c.metric == "cpu.speedup"), None)
                for checks in (slow_checks, fast_checks)]
    if statuses[0] is not None:
        assert RANK[statuses[0]] <= RANK[statuses[1]]


Z95_TWO_SIDED = NormalDist().inv_cdf(0.975)  # what a 95% CI's half-width is in standard errors
Z_PASS = NormalDist().inv_cdf(0.99)  # one-sided 99%: a slowdown of rtol passes <= 1% of the time


@EXAMPLES
@given(st.floats(1.5, 20), st.floats(0.01, 0.5), st.floats(0, 0.1), st.floats(0.001, 0.1))
def test_speedup_tolerance_edges(expected, rtol, half_width, baseline_half_width):
    """The three outcomes of the cpu speedup check against a one-run baseline, on the log scale: drop =
    log(baseline / measured); its se holds both runs' own errors and the prior's between-run sigma on
    both sides; t = log(1 + rtol). It fails beyond max(t/2, z_fail se) (z_fail: the family-wise
    Student-t quantile of 42 cases), passes below t - z99 se (and not failing), and is inconclusive between."""
    tol = Tolerances(speedup_rtol=rtol)
    spread = math.exp(baseline_half_width)
    baseline = make_result(
        original_ms=expected * 10.0, optimized_ms=10.0, speedup_ci=(expected / spread, expected * spread)
    )
    match = baseline_match(baseline)
    [run] = match.runs  # as stored: 6 significant digits
    expected = run.speedup
    sigma = PRIOR_SPEEDUP_SIGMA
    se = math.sqrt(
        sigma**2 + (half_width / Z95_TWO_SIDED) ** 2 + median_variance_factor(1) * (sigma**2 + run.log_se**2)
    )
    t = math.log1p(rtol)
    fail_edge, pass_edge = max(t / 2, SpeedupRule.of(GATE, rtol).z_fail * se), t - Z_PASS * se
    eps = 1e-9  # on the log scale: far above float rounding, far below any CI

    def status(drop: float) -> str:
        value = expected * math.exp(-drop)
        result = make_result(original_ms=value * 10.0, optimized_ms=10.0,
                             speedup_ci=(value * math.exp(-half_width), value * math.exp(half_width)))
        assert result.latency.cpu.speedup.value == pytest.approx(value, rel=1e-12)
        return next(c for c in judge(result, match, tol).checks if c.metric == "cpu.speedup").status

    assert status(fail_edge + eps) == "fail"  # slower beyond half the tolerance, and significantly
    assert status(fail_edge - eps) != "fail"
    if pass_edge > 0:
        assert status(min(fail_edge, pass_edge) - eps) == "pass"  # a slowdown of rtol is ruled out
    if pass_edge < fail_edge - 2 * eps:
        assert status(pass_edge + eps) == "inconclusive"  # neither ruled out nor significant
        assert status(fail_edge - eps) == "inconclusive"
    assert status(-fail_edge - eps) != "fail"  # faster never fails
    assert status(0.0) != "fail"  # no change never fails


# ---- fuzz: the baseline loader and the CoNLL reader --------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)
entry_like = st.fixed_dictionaries(
    {},
    optional={
        "model": json_values,
        "parameters": json_values,
        "accuracy": st.dictionaries(
            st.sampled_from(["original", "optimized"]),
            st.dictionaries(st.sampled_from(["precision", "recall", "f1", "accuracy"]), json_values),
        ),
        "latency": st.dictionaries(
            st.sampled_from(["original", "optimized", "wall_speedup", "cpu", "speedup"]),
            st.dictionaries(
                st.sampled_from(
                    ["mean_ms", "throughput", "value", "ci_low", "ci_high", "original_ms", "optimized_ms", "speedup"]
                ),
                json_values | st.dictionaries(st.sampled_from(["value", "ci_low", "ci_high"]), json_values),
            ),
        ),
    },
)
documents = st.fixed_dictionaries(
    {"schema_version": st.sampled_from([4, 4, 4, 3, 2, 1, "4", None]), "test": st.sampled_from([TEST, TEST, "other"])},
    optional={
        "cases": st.dictionaries(
            st.sampled_from(["c", "d"]),
            st.dictionaries(st.sampled_from([HW, "x86_64-avx2-4c"]), entry_like | json_values) | json_values,
        )
    },
)
valid = json.dumps({"schema_version": 4, "test": TEST, "cases": {}}).encode()
ENTRY = entry_from_result(make_result()).to_json()


@EXAMPLES
@given(
    st.binary(max_size=300)
    | documents.map(lambda d: json.dumps(d).encode())
    | st.builds(lambda n: valid[:n], st.integers(0, len(valid)))
)
@example(b"[" * 100_000)  # nested past the parser's recursion limit
@example(
    b'{"schema_version": 4, "test": "%s", "cases": {"c": {"%s": {"accuracy": NaN}}}}' % (TEST.encode(), HW.encode())
)
@example(json.dumps({"schema_version": 4, "test": TEST, "cases": {"c": {HW: ENTRY}}}).encode())
@example(json.dumps({"schema_version": 4, "test": TEST, "cases": {"c": {HW: {  # a schema-2 entry in a schema-4 file
    **ENTRY, "latency": {"original": {}, "optimized": {}, "speedup": {"value": 4.66}}}}}}).encode())
def test_any_baseline_file_is_read_or_refused_with_a_clear_error(content: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        store = BaselineStore(tmp)
        path = store.path_for(TEST)
        path.write_bytes(content)
        try:
            match = store.lookup(TEST, "c", HW)
        except QbenchBaselineError as error:
            assert str(path) in str(error)
        else:  # whatever was read, the policy can judge against it without crashing
            result = make_result()
            assert judge(result, match, Tolerances()).verdict in {"pass", "fail", "inconclusive", "skip"}

        store = BaselineStore(tmp)
        store.stage(TEST, "c", HW, make_result())
        try:
            store.flush()
        except QbenchFlushError as error:
            assert str(path) in str(error)
            assert path.read_bytes() == content  # refused: left untouched
        else:
            assert json.loads(path.read_text())["cases"]["c"][HW] == ENTRY
        assert sorted(p.name for p in Path(tmp).iterdir()) == [path.name]


conll_pieces = list("ab-O \t\n\r") + ["B-PER", "I-PER", "-DOCSTART-", "\u00e9", "\u2028", "\x85", "\ufeff"]
conll_text = st.lists(st.sampled_from(conll_pieces), max_size=80).map("".join)


@EXAMPLES
@given(st.binary(max_size=300) | conll_text.map(lambda t: t.encode("utf-8")))
@example("John B-PER\nM\u00fcller I-PER\n".encode("latin-1"))
def test_any_conll_file_is_read_or_refused_with_a_clear_error(content: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.txt"
        path.write_bytes(content)
        try:
            sentences, tags = read_conll(path)
        except QbenchDataError as error:
            assert str(error).startswith(f"{path}:")  # file and line
            line = str(error)[len(str(path)) + 1:].split(":", 1)[0]
            assert line.isdigit() and 1 <= int(line) <= content.count(b"\n") + content.count(b"\r") + 1
        else:
            assert len(sentences) == len(tags)
            assert all(len(words) == len(labels) > 0 for words, labels in zip(sentences, tags, strict=True))
            assert "-DOCSTART-" not in [w for words in sentences for w in words]


def test_a_byte_order_mark_is_not_part_of_the_first_token(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(b"\xef\xbb\xbf-DOCSTART- -X- O\n\nJohn B-PER\r\nSmith I-PER\n")
    assert read_conll(path) == ([["John", "Smith"]], [["B-PER", "I-PER"]])


words = st.text(st.characters(codec="utf-8", exclude_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1, max_size=8)


@EXAMPLES
@given(
    st.lists(
        st.lists(st.tuples(words, st.sampled_from(["O", "B-PER", "I-PER", "B-LOC"])), min_size=1, max_size=6),
        max_size=5,
    )
)
def test_conll_round_trip(sentences):
    assume(all(w.split() == [w] and w != "-DOCSTART-" for sentence in sentences for w, _ in sentence))
    text = "-DOCSTART- -X- -X- O\n\n" + "\n\n".join("\n".join(f"{w} NN O {t}" for w, t in s) for s in sentences) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.txt"
        path.write_text(text, encoding="utf-8")
        assert read_conll(path) == ([[w for w, _ in s] for s in sentences], [[t for _, t in s] for s in sentences])


def test_a_stale_temp_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    store = BaselineStore(tmp_path)
    stale = tmp_path / f".{store.path_for(TEST).name}.k1ll3d.tmp"
    stale.write_text('{"half": ')
    other = tmp_path / ".another.json.x.tmp"
    other.write_text("not ours")
    store.stage(TEST, "c", HW, make_result())
    store.flush()
    assert not stale.exists() and other.exists()


@pytest.mark.parametrize("field", ["cpu.speedup.value", "cpu.optimized_ms", "wall_speedup.ci_low", "original.mean_ms"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.9", r"the entry of case .* has latency\.{field} = '0\.9', not a finite number"),
        (True, r"the entry of case .* has latency\.{field} = True, not a finite number"),
        (None, r"the entry of case .* has latency\.{field} = None, not a finite number"),
        (math.nan, r"holds NaN, which is not a JSON number; it was left untouched"),
        (-math.inf, r"holds -Infinity, which is not a JSON number; it was left untouched"),
    ],
)
def test_a_baseline_entry_with_a_non_number_is_refused_naming_the_field(tmp_path, field, value, message):
    message = message.replace("{field}", field.replace(".", r"\."))
    result = _stored_with_latency_field(tmp_path, field, value)
    with pytest.raises(QbenchBaselineError, match=message):
        BaselineStore(tmp_path).lookup(TEST, result.case_id, HW)
    if isinstance(value, float):
        return
    # An update does not need the old entry: it reads the file, finds no baseline in it, and replaces it.
    assert BaselineStore(tmp_path).lookup(TEST, result.case_id, HW, check_entry=False).values is None
    store = BaselineStore(tmp_path)
    store.stage(TEST, result.case_id, HW, result)
    assert store.flush().updated == [(TEST, result.case_id, HW)]
    assert BaselineStore(tmp_path).lookup(TEST, result.case_id, HW).values == entry_from_result(result)


def _stored_with_latency_field(tmp_path, field, value):
    """A baseline file of make_result() whose entry has latency.<field> set to `value`; the result."""
    store = BaselineStore(tmp_path)
    result = make_result()
    store.stage(TEST, result.case_id, HW, result)
    store.flush()
    doc = json.loads(store.path_for(TEST).read_text())
    *parents, name = field.split(".")
    node = doc["cases"][result.case_id][HW]["latency"]
    for part in parents:
        node = node[part]
    node[name] = value
    store.path_for(TEST).write_text(json.dumps(doc))
    return result


@pytest.mark.parametrize(
    ("field", "value"), [("cpu.speedup.ci_low", 0), ("cpu.speedup.value", -2.0), ("cpu.optimized_ms", 0)]
)
def test_a_baseline_entry_with_a_non_positive_speedup_or_cpu_time_is_refused_not_a_crash(tmp_path, field, value):
    result = _stored_with_latency_field(tmp_path, field, value)
    # the policy divides by these or takes their log: refused when read, naming the field
    message = re.escape(f"has latency.{field} = {value!r}, not a positive number")
    with pytest.raises(QbenchBaselineError, match=message):
        BaselineStore(tmp_path).lookup(TEST, result.case_id, HW)


def test_a_test_key_too_long_for_a_file_name_is_a_clear_error(tmp_path):
    test = "tests/" + "x" * 250 + ".py::test_y"
    with pytest.raises(QbenchBaselineError, match=r"cannot be read \(\[Errno 36\] File name too long"):
        BaselineStore(tmp_path).lookup(test, "c", HW)
    store = BaselineStore(tmp_path)
    store.stage(test, "c", HW, make_result())
    with pytest.raises(QbenchFlushError, match=r"File name too long"):
        store.flush()
    assert list(tmp_path.iterdir()) == []
