"""Deprecated: `pytest_qbench.build.cache` (0.1) is now `pytest_qbench.variants.cache`; `BuildCache` and
`default_cache_root` are public names of `pytest_qbench`."""

from ..deprecation import moved

__getattr__ = moved(__name__, {
    "BuildCache": "pytest_qbench",
    "default_cache_root": "pytest_qbench",
    "CacheEntry": "pytest_qbench.variants.cache",
    "library_versions": "pytest_qbench.variants.cache",
    "fingerprint_path": "pytest_qbench.variants.cache",
    "key_digest": "pytest_qbench.variants.cache",
    "MANIFEST": "pytest_qbench.variants.cache",
    "QbenchCacheWarning": "pytest_qbench",
})
