"""The pytest entry point: options, the `qbench` marker, its parametrization, sharding, fixtures.

pytest imports this module in every run of every project where pytest-qbench is installed, so it
imports nothing heavy: torch, onnxruntime, optimum, transformers and datasets load only when a
qbench case runs. The session object (session.py) does the rest: it is registered as a plugin here.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from . import hooks
from . import options as _options
from .errors import QbenchArtifactError, QbenchConfigError, QbenchTerminated
from .shard import durations_from, group_of, plan
from .specs import CaseSpec, QbenchOptions, Shard, parse_label_map, parse_label_map_merge, parse_marker

if TYPE_CHECKING:
    from .runner import QbenchRun
    from .session import QbenchSession

SESSION_KEY = pytest.StashKey["QbenchSession"]()
OPTIONS_KEY = pytest.StashKey[QbenchOptions]()
MARKER_HELP = (
    "qbench(model=..., dataset=..., approach=[...], operators=[[...]], batch_size=[...], "
    "sequence_length=[...], **fixed): gate a quantized model's accuracy and latency (run with --qbench)"
)
T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    _options.addoption(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    options = _options.read_options(config)
    config.stash[OPTIONS_KEY] = options
    if options.enabled:
        from .session import QbenchSession

        session = QbenchSession(config, options)
        config.stash[SESSION_KEY] = session
        config.pluginmanager.register(session, "qbench-session")
        _time_on_one_worker(config)
        _stop_on_signals(config, session)


def _stop_on_signals(config: pytest.Config, session: QbenchSession) -> None:
    """SIGINT and SIGTERM mark the session interrupted, then raise (KeyboardInterrupt, QbenchTerminated).

    The mark does not depend on pytest's own handling: pytest can crash while it formats the
    interrupt (when the signal lands on a bytecode without a line number), and then reports
    neither the interrupt hook nor the INTERRUPTED exit status to the session."""
    if hasattr(config, "workerinput") or threading.current_thread() is not threading.main_thread():
        return  # xdist workers: the controller stops them; signals reach the main thread only

    def interrupted(signum: int, frame: FrameType | None) -> None:
        __tracebackhide__ = True  # pytest names where the signal landed, not this handler
        session.interrupted = True
        if signum == signal.SIGINT:
            signal.default_int_handler(signum, frame)  # KeyboardInterrupt, as without qbench
        raise QbenchTerminated("qbench: received SIGTERM; stopping as after Ctrl-C")

    # Only where nobody else handles the signal: Python's defaults.
    defaults: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int] = {
        signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL,
    }
    for signum, default in defaults.items():
        if signal.getsignal(signum) is default:
            signal.signal(signum, interrupted)

    def restore() -> None:
        for signum, default in defaults.items():
            if signal.getsignal(signum) is interrupted:
                signal.signal(signum, default)

    config.add_cleanup(restore)


def _time_on_one_worker(config: pytest.Config) -> None:
    """Timing beside other work is noise: under xdist, qbench cases share one worker (its
    `loadgroup` mode with the xdist_group mark set below); other tests still spread out."""
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("qbench")
    if marker is None:
        return
    if marker.args:
        pytest.fail(f"qbench: the marker takes keyword arguments only, got positional {marker.args!r}", pytrace=False)
    options = metafunc.config.stash[OPTIONS_KEY]
    try:
        cases = parse_marker(
            marker.kwargs, timing=options.timing, tolerances=options.tolerances,
            saturation_remedy=options.saturation_remedy, runtimes=options.runtimes,
        )
    except QbenchConfigError as error:
        # `from None`: else pytest prints the error twice, joined by "During handling of the above exception".
        raise pytest.fail.Exception(f"{metafunc.definition.nodeid}: {error}", pytrace=False) from None
    if "qbench_case" not in metafunc.fixturenames:
        pytest.fail(f"qbench: {metafunc.definition.nodeid} has the qbench marker but uses no `qbench` fixture",
                    pytrace=False)
    metafunc.parametrize("qbench_case", cases, ids=[case.id for case in cases])


@pytest.hookimpl(trylast=True)  # after pytest's own -k / -m deselection: shards split what is selected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    options = config.stash[OPTIONS_KEY]
    if options.enabled:
        qbench_items = [item for item in items if item.get_closest_marker("qbench")]
        session = config.stash[SESSION_KEY]
        session.selected = [item.nodeid for item in qbench_items]
        if options.rerun_from is not None:
            qbench_items = _keep_reruns(config, items, qbench_items, options.rerun_from)
        if options.shard is not None:
            _keep_shard(config, items, qbench_items, options.shard, options.shard_durations)
        group = pytest.mark.xdist_group("qbench")
        for item in qbench_items:
            item.add_marker(group)
        return
    skip = pytest.mark.skip(reason="qbench gate is off: pass --qbench to run it")
    for item in items:
        if item.get_closest_marker("qbench"):
            item.add_marker(skip)


def _keep_reruns(config: pytest.Config, items: list[pytest.Item], qbench_items: list[pytest.Item],
                 rerun_from: Path) -> list[pytest.Item]:
    """Keep only the qbench cases whose latency the artifact of --qbench-rerun-from found failing or
    inconclusive on this machine's hardware key (a confirmation on another machine); the run's
    selection, and so its family of cases, is that artifact's."""
    from .gate.merge import to_confirm
    from .report.artifact import read_artifact

    session = config.stash[SESSION_KEY]
    try:
        artifact = read_artifact(rerun_from)
    except QbenchArtifactError as error:
        raise pytest.UsageError(f"--qbench-rerun-from: {error}") from None
    again = set(to_confirm(artifact.results(), session.hardware_key))
    session.selected = list(artifact.run.selected)
    keep = [i for i in items if i.nodeid in again]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep
    return [i for i in qbench_items if i in keep]


def _keep_shard(config: pytest.Config, items: list[pytest.Item], qbench_items: list[pytest.Item], shard: Shard,
                shard_durations: Path | None) -> None:
    """Deselect the qbench cases of the other shards (shard.py); the other tests run in shard 1 only."""
    groups: dict[str, list[str]] = {}
    for item in qbench_items:
        case = item.callspec.params["qbench_case"] if isinstance(item, pytest.Function) else None
        assert isinstance(case, CaseSpec)  # every qbench item is parametrized by its marker (pytest_generate_tests)
        groups.setdefault(group_of(case), []).append(item.nodeid)
    try:
        durations = durations_from(shard_durations) if shard_durations else {}
    except QbenchConfigError as error:
        raise pytest.UsageError(str(error)) from None
    chosen = plan(groups, shard.count, durations)
    mine = {nodeid for group in chosen.shards[shard.index - 1] for nodeid in groups[group]}
    keep = [i for i in items if i.nodeid in mine or (shard.index == 1 and not i.get_closest_marker("qbench"))]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep
    balance = f"durations of {shard_durations}" if chosen.by_duration else "case counts"
    config.stash[SESSION_KEY].shard_plan = (
        f"qbench: shard {shard}: {len(mine)} of {len(qbench_items)} cases, {len(chosen.shards[shard.index - 1])}"
        f" of {len(groups)} builds; balanced by {balance}"
        f" (expected loads {', '.join(f'{x:.0f}' for x in chosen.loads)})"
    )


@pytest.fixture
def qbench_case(request: pytest.FixtureRequest) -> CaseSpec:
    """The current case; parametrized by the `qbench` marker."""
    raise pytest.UsageError(
        f"qbench: {request.node.nodeid} uses the qbench fixture without a @pytest.mark.qbench marker"
    )


@pytest.fixture
def qbench(request: pytest.FixtureRequest, qbench_case: CaseSpec) -> QbenchRun:
    """One case of the qbench matrix (runner.QbenchRun): `.original` / `.optimized` ONNX Runtime
    sessions, `.variant` (what was built, `.variant.quantization`), `.accuracy()`, `.latency()`,
    `.check()` (measure, compare to the baseline, assert) and `.diagnose(repair=False)` (why a variant
    loses accuracy, and with `repair` the smallest node exclusion that brings it back)."""
    from .runner import QbenchRun

    qbench_case = _with_label_map(request, qbench_case)
    session = request.config.stash[SESSION_KEY]
    model = qbench_case.model or request.getfixturevalue("qbench_model")
    dataset = qbench_case.data.dataset or request.getfixturevalue("qbench_dataset")
    if isinstance(dataset, str):
        dataset = str(_resolve(request, dataset))
    folder = model = _resolve(request, model)
    if qbench_case.model_file is not None:
        model = _inside(folder, "model_file", qbench_case.model_file)
    quantized_file = qbench_case.variant.quantized_file
    quantized = None if quantized_file is None else _inside(folder, "quantized_file", quantized_file)
    return QbenchRun(session, request.node, qbench_case, str(model), dataset, quantized=quantized)


def _inside(folder: str | os.PathLike[str], name: str, file: str) -> Path:
    """`file` of the model folder, which must exist locally."""
    path = Path(folder) / file
    if not Path(folder).is_dir():
        pytest.fail(
            f"qbench: {name} names a file of a local model folder, and {str(folder)!r} is none; download the"
            " model (e.g. `huggingface-cli download <id> --local-dir <folder>`) and give that folder",
            pytrace=False,
        )
    if not path.is_file():
        pytest.fail(f"qbench: {name} {file!r} is not a file in the model folder ({path})", pytrace=False)
    return path


@pytest.fixture(scope="session")
def qbench_model() -> str:
    """The model when the marker names none: override in conftest.py (hub id, HF folder or .onnx)."""
    raise pytest.UsageError("qbench: the marker gives no model= and no conftest.py defines a `qbench_model` fixture")


@pytest.fixture(scope="session")
def qbench_dataset() -> Any:
    """The dataset when the marker names none: override in conftest.py (hub name, path, Dataset[Dict])."""
    raise pytest.UsageError(
        "qbench: the marker gives no dataset= and no conftest.py defines a `qbench_dataset` fixture"
    )


@pytest.fixture(scope="session")
def qbench_label_map() -> dict[str, str] | None:
    """The label_map when the marker gives none: override in conftest.py to share one across tests."""
    return None


@pytest.fixture(scope="session")
def qbench_label_map_merge() -> bool:
    """Whether a label_map joins the adjacent parts of one entity when the marker does not say:
    override in conftest.py to return False (every span the model tagged is an entity of its own)."""
    return True


def _with_label_map(request: pytest.FixtureRequest, case: CaseSpec) -> CaseSpec:
    """The case with the `qbench_label_map` fixture's map and the `qbench_label_map_merge` fixture's
    rule, where its marker gave none."""
    data = case.data
    if not data.label_map:
        data = replace(data, label_map=_fixture_value(request, "qbench_label_map", parse_label_map))
    if data.label_map_merge is None:
        data = replace(data, label_map_merge=_fixture_value(request, "qbench_label_map_merge", parse_label_map_merge))
    elif not data.label_map:
        pytest.fail(
            f"qbench: label_map_merge={data.label_map_merge} in the marker, but there is no label_map to apply it"
            " to: give label_map= in the marker or a `qbench_label_map` fixture, or leave label_map_merge out",
            pytrace=False,
        )
    return replace(case, data=data)


def _fixture_value(request: pytest.FixtureRequest, name: str, parse: Callable[[Any], T]) -> T:
    try:
        return parse(request.getfixturevalue(name))
    except QbenchConfigError as error:
        pytest.fail(f"{name} fixture: {error}", pytrace=False)


def _resolve(request: pytest.FixtureRequest, model: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """A relative local path is taken from the test file's folder first, then as given (hub id)."""
    beside = Path(request.node.path).parent / model
    return beside.resolve() if beside.exists() else model
