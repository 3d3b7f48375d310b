"""Deprecated: pytest-qbench 0.1's `build` package is now `pytest_qbench.variants` (tools skip folders
named build/). `pytest_qbench.build.cache` keeps working for one release, with a DeprecationWarning."""
