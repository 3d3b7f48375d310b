from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from pytest_qbench import QbenchCacheWarning
from pytest_qbench.variants.cache import MANIFEST, BuildCache, default_cache_root, fingerprint_path, library_versions

KEY = {"kind": "test", "opset": 11, "nested": {"b": [1, 2], "a": None}}


def write_model(out: Path, payload: bytes = b"weights" * 1000) -> None:
    (out / "sub").mkdir()
    (out / "model.onnx").write_bytes(payload)
    (out / "sub" / "config.json").write_text("{}")


class Builds:
    """A build callback that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, out: Path) -> None:
        self.calls += 1
        write_model(out)


def test_builds_once_then_reuses(tmp_path: Path) -> None:
    cache, build = BuildCache(tmp_path), Builds()
    path, cached = cache.get_or_build(KEY, build)
    assert not cached and build.calls == 1
    assert (path / "model.onnx").read_bytes().startswith(b"weights")
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["key"] == KEY and set(manifest["files"]) == {"model.onnx", "sub/config.json"}

    reordered = {"nested": {"a": None, "b": [1, 2]}, "opset": 11, "kind": "test"}
    assert BuildCache(tmp_path).get_or_build(reordered, build) == (path, True)  # a new process's view
    assert build.calls == 1
    assert cache.entry(KEY) == path
    assert cache.entry({**KEY, "opset": 18}) is None


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)

    def broken(out: Path) -> None:
        write_model(out)
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError, match="export failed"):
        cache.get_or_build(KEY, broken)
    assert cache.entry(KEY) is None
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    assert cache.get_or_build(KEY, Builds())[1] is False


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: (p / "model.onnx").write_bytes(b"weights"),  # truncated
        lambda p: (p / MANIFEST).unlink(),
        lambda p: (p / MANIFEST).write_text("{not json"),
        lambda p: (p / "sub" / "config.json").unlink(),
    ],
    ids=["truncated", "no-manifest", "bad-manifest", "missing-file"],
)
def test_damaged_entry_is_rebuilt_with_a_warning(tmp_path: Path, damage) -> None:
    cache, build = BuildCache(tmp_path), Builds()
    path, _ = cache.get_or_build(KEY, build)
    damage(path)
    with pytest.warns(QbenchCacheWarning, match="rebuilding"):
        assert cache.get_or_build(KEY, build) == (path, False)
    assert build.calls == 2
    assert cache.entry(KEY) == path


def test_same_size_corruption_is_caught_on_first_use_in_a_process(tmp_path: Path) -> None:
    path, _ = BuildCache(tmp_path).get_or_build(KEY, Builds())
    data = bytearray((path / "model.onnx").read_bytes())
    data[10] ^= 0xFF
    (path / "model.onnx").write_bytes(bytes(data))
    with pytest.warns(QbenchCacheWarning, match="checksum"):
        assert BuildCache(tmp_path).get_or_build(KEY, Builds())[1] is False


def test_stale_temporary_folders_are_cleaned(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    stale = tmp_path / f".{cache.path_for(KEY).name}.tmp-dead"
    stale.mkdir()
    cache.get_or_build(KEY, Builds())
    assert not stale.exists()


def _slow_build(root: str, results) -> None:
    def build(out: Path) -> None:
        time.sleep(0.5)
        write_model(out)

    results.put(BuildCache(Path(root)).get_or_build(KEY, build)[1])


def test_two_processes_build_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_slow_build, args=(str(tmp_path), results)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(results.get(timeout=5) for _ in procs) == [False, True]


def test_fingerprint_path(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    write_model(folder)
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref")
    first = fingerprint_path(folder)
    assert fingerprint_path(folder) == first
    (folder / ".git" / "HEAD").write_text("other ref")
    assert fingerprint_path(folder) == first  # hidden folders do not count
    (folder / "sub" / "config.json").write_text('{"a": 1}')
    assert fingerprint_path(folder) != first

    copy = tmp_path / "renamed.onnx"
    copy.write_bytes((folder / "model.onnx").read_bytes())
    assert fingerprint_path(copy) == fingerprint_path(folder / "model.onnx")  # a file: bytes only


def test_library_versions_and_default_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    versions = library_versions()
    assert set(versions) == {"torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime"}
    assert versions["onnx"][0].isdigit()
    monkeypatch.setenv("QBENCH_CACHE_DIR", str(tmp_path))
    assert default_cache_root() == tmp_path
    assert BuildCache().root == tmp_path
    monkeypatch.delenv("QBENCH_CACHE_DIR")
    assert default_cache_root() == Path.home() / ".cache" / "pytest-qbench"


def _aged(entry: Path, days: float) -> None:
    """Make `entry` look last used `days` days ago."""
    stamp = time.time() - days * 86400
    os.utime(entry / MANIFEST, (stamp, stamp))


def _fill(out: Path, size: int = 1000) -> None:
    (out / "model.onnx").write_bytes(b"x" * size)


def test_a_lookup_marks_an_entry_used_and_prune_removes_only_the_long_unused(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    old, fresh, looked_up = (cache.get_or_build({"kind": kind}, _fill)[0] for kind in ("old", "fresh", "looked-up"))
    _aged(old, 40)
    _aged(looked_up, 40)
    cache.get_or_build({"kind": "looked-up"}, _fill)  # a run used it today
    (tmp_path / f".{old.name}.tmp-dead").mkdir()  # left by a killed build, long ago
    os.utime(tmp_path / f".{old.name}.tmp-dead", (time.time() - 40 * 86400,) * 2)
    assert [(e.kind, e.size) for e in cache.entries()][0] == ("old", 1000 + (old / MANIFEST).stat().st_size)

    assert [e.path for e in cache.prune(30, dry_run=True)] == [old] and old.is_dir()
    assert [e.path for e in cache.prune(30)] == [old]
    assert not old.exists() and fresh.is_dir() and looked_up.is_dir()
    assert not list(tmp_path.glob(".*.tmp-*")) and not list(tmp_path.glob(".*.trash-*"))
    assert cache.get_or_build({"kind": "old"}, _fill)[1] is False  # pruned: built again when asked


def test_the_cache_command_lists_and_prunes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_qbench.__main__ import main

    cache = BuildCache(tmp_path)
    entry, _ = cache.get_or_build({"kind": "variant"}, lambda out: _fill(out, 2_000_000))
    assert main(["cache", "--dir", str(tmp_path)]) == 0
    assert f"variant    {entry.name}" in capsys.readouterr().out
    _aged(entry, 10)
    assert main(["cache", "--dir", str(tmp_path), "--prune", "7", "--dry-run"]) == 0
    assert "would free 1 entries, 2.0 MB" in capsys.readouterr().out and entry.is_dir()
    assert main(["cache", "--dir", str(tmp_path), "--prune", "7"]) == 0
    assert "freed 1 entries, 2.0 MB" in capsys.readouterr().out and not entry.exists()
