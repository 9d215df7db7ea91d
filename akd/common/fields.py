"""Config fields that carry their description: ``option(default, help=...)`` is a dataclass
field whose help travels in its metadata, so ``--help`` lists every key with its whole meaning
from the classes themselves, whatever their source layout (or without the source at all)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


def option(default: Any = dataclasses.MISSING, *, help: str,
           factory: Callable[[], Any] | Any = dataclasses.MISSING) -> Any:
    """A dataclass field with ``default`` (or a ``factory`` for a mutable default) and its
    ``help``."""
    return dataclasses.field(default=default, default_factory=factory, metadata={"help": help})


def help_of(item: dataclasses.Field) -> str:
    """The help of a field made by :func:`option` ("" for any other field)."""
    return item.metadata.get("help", "")
