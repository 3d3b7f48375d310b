"""Old import paths that keep working for one release, with a DeprecationWarning naming the new one.

A module whose names moved defines `__getattr__ = moved(__name__, {"Name": "pytest_qbench", ...})`:
Python calls a module's `__getattr__` only for names it does not define, so the module's own names
are untouched, and each moved name is looked up in its new module when it is asked for.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable, Mapping


def moved(old_module: str, new_modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that serves each name of `new_modules` from its new module, warning."""

    def __getattr__(name: str) -> Any:
        if name not in new_modules:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        new = new_modules[name]
        warnings.warn(
            f"{old_module}.{name} is deprecated and will be removed in pytest-qbench 0.3: import {new}.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new), name)

    return __getattr__
