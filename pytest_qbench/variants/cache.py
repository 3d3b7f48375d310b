"""A content-addressed build cache for exported and quantized models.

Every entry is a folder named by the sha256 of its key (a JSON-able mapping). It is built in a
temporary sibling folder, sealed with a manifest (key + size and sha256 of every file), then renamed
into place, so readers never see half-written entries. A per-key file lock keeps two processes
(pytest-xdist workers, parallel CI jobs) from building the same entry at once. Every lookup touches
the manifest, so `prune` can remove what no run has used for a while.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..errors import QbenchCacheWarning

MANIFEST = "manifest.json"
LIBRARIES = ("torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    kind: str  # what built it: "export", "optimized", "variant", "given", "adopt"...
    size: int  # bytes
    last_used: float  # seconds since the epoch: the last lookup or build


def default_cache_root() -> Path:
    return Path(os.environ.get("QBENCH_CACHE_DIR") or Path.home() / ".cache" / "pytest-qbench")


def key_digest(key: Mapping[str, Any]) -> str:
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def library_versions(names: Iterable[str] = LIBRARIES) -> dict[str, str]:
    """Versions of the libraries that decide the bytes of a built model (no imports of them)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path, skip_hidden: bool = False) -> list[Path]:
    files = (p for p in root.rglob("*") if p.is_file())
    if skip_hidden:
        files = (p for p in files if not any(s.startswith(".") for s in p.relative_to(root).parts))
    return sorted(files)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _touch(entry: Path) -> None:
    """Mark an entry used now; a read-only cache (restored in CI) just stays unmarked."""
    try:
        os.utime(entry / MANIFEST)
    except OSError:
        pass


_fingerprints: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def fingerprint_path(path: str | Path) -> str:
    """sha256 over the bytes of a file, or the relative names and bytes of every file in a folder.

    Hidden entries (.git, .cache) are skipped. Memoised on (path, names, mtimes, sizes) so a
    session hashes a model once, yet sees edits.
    """
    path = Path(path).resolve()
    files = [path] if path.is_file() else _files(path, skip_hidden=True)
    stats = tuple((_rel(f, path), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    memo_key = (str(path), stats)
    if memo_key not in _fingerprints:
        digest = hashlib.sha256()
        for f in files:
            digest.update(_rel(f, path).encode() + b"\0")
            digest.update(_file_sha256(f).encode())
        _fingerprints[memo_key] = digest.hexdigest()
    return _fingerprints[memo_key]


class BuildCache:
    """Build-once storage of model folders, keyed by what decides their bytes.

    Verification: every lookup checks that the manifest exists and that every file has its recorded
    size (cheap, catches truncated and missing files: the usual damage of a killed build or a full
    disk). The sha256 of every file is checked on the first lookup of an entry in each process
    only: rehashing a several-hundred-MB model at every lookup would cost more than the lookups
    it guards, and an entry does not change under a running session.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()
        self._hashed: set[Path] = set()

    def path_for(self, key: Mapping[str, Any]) -> Path:
        """Where the entry for `key` lives (whether or not it is built)."""
        return self.root / key_digest(key)

    def entry(self, key: Mapping[str, Any]) -> Path | None:
        """The folder of the complete, verified entry for `key`, or None when there is none."""
        path = self.path_for(key)
        return path if self._problem(path) is None else None

    def get_or_build(
        self, key: Mapping[str, Any], build: Callable[[Path], object]
    ) -> tuple[Path, bool]:
        """Return (entry folder, was_cached); `build(folder)` fills an empty folder when needed."""
        path = self.path_for(key)
        if self._problem(path) is None:
            _touch(path)
            return path, True
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            problem = self._problem(path)  # another process may have built it meanwhile
            if problem is None:
                _touch(path)
                return path, True
            if path.exists():
                warnings.warn(
                    f"qbench: cache entry {path} is unusable ({problem}); rebuilding it",
                    QbenchCacheWarning,
                    stacklevel=2,
                )
                shutil.rmtree(path)
            self._build(path, key, build)
        return path, False

    def _build(self, path: Path, key: Mapping[str, Any], build: Callable[[Path], object]) -> None:
        for stale in self.root.glob(f".{path.name}.tmp-*"):  # left by killed builds; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = self.root / f".{path.name}.tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            build(tmp)
            files = {
                _rel(f, tmp): {"size": f.stat().st_size, "sha256": _file_sha256(f)}
                for f in _files(tmp)
            }
            manifest = {"key": key, "files": files}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
            os.rename(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._hashed.add(path)

    def entries(self) -> list[CacheEntry]:
        """The sealed entries, least recently used first."""
        found = []
        for path in self.root.iterdir() if self.root.is_dir() else ():
            manifest = path / MANIFEST
            if path.name.startswith(".") or not manifest.is_file():
                continue
            try:
                kind = json.loads(manifest.read_text())["key"].get("kind", "?")
            except (OSError, ValueError, KeyError, AttributeError):
                kind = "?"
            size = sum(f.stat().st_size for f in _files(path))
            found.append(CacheEntry(path, kind, size, manifest.stat().st_mtime))
        return sorted(found, key=lambda e: e.last_used)

    def prune(self, unused_days: float, dry_run: bool = False) -> list[CacheEntry]:
        """Remove the entries no lookup has used for `unused_days` days, and the leftovers of killed
        builds as old; return what was (or, with `dry_run`, would be) removed. Each entry goes under
        its build lock, renamed aside before it is deleted, so no reader ever sees half of it."""
        cutoff = time.time() - unused_days * 86400
        stale = [e for e in self.entries() if e.last_used < cutoff]
        if dry_run:
            return stale
        for entry in stale:
            with FileLock(str(entry.path) + ".lock"):
                if (entry.path / MANIFEST).is_file() and (entry.path / MANIFEST).stat().st_mtime < cutoff:
                    trash = self.root / f".{entry.path.name}.trash-{uuid.uuid4().hex}"
                    os.rename(entry.path, trash)
                    shutil.rmtree(trash, ignore_errors=True)
        for leftover in [*self.root.glob(".*.tmp-*"), *self.root.glob(".*.trash-*")]:
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
        return stale

    def _problem(self, path: Path) -> str | None:
        """Why the entry at `path` cannot be used, or None when it is complete."""
        if not path.is_dir():
            return "missing"
        try:
            files = json.loads((path / MANIFEST).read_text())["files"]
            expected = {name: (meta["size"], meta["sha256"]) for name, meta in files.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return "no readable manifest"
        for name, (size, _) in expected.items():
            file = path / name
            if not file.is_file() or file.stat().st_size != size:
                return f"{name} is missing or truncated"
        if path not in self._hashed:
            for name, (_, sha256) in expected.items():
                if _file_sha256(path / name) != sha256:
                    return f"{name} does not match its checksum"
            self._hashed.add(path)
        return None
