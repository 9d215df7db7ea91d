"""Names a package exports without importing their module until first used (PEP 562): the
search loop, the final stage's training and the report's figures are public API, but a reader of
run directories must not load an evaluator or matplotlib to get a trial's type."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, modules: dict[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``.module`` (relative to it) on the
    first use of any of the names ``modules`` lists for it."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name], package), name)
    return __getattr__
