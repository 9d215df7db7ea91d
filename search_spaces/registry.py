"""Things by name, so that configs can pick one: a tiny registry in the style of fvcore's, filled
by a decorator where each thing is defined. The spaces' registry is here; the controllers use the
same :class:`Registry` for theirs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from .base import SearchSpace

T = TypeVar("T")


class Registry(Mapping[str, T]):
    """Things of one kind by name (factories, or descriptions such as a dataset's source), in
    the order they were registered: the one registry of akd's spaces, controllers, datasets,
    teachers and predictor models. A read-only mapping (``name in r``, ``r[name]``, iteration
    in registration order); an unknown name is a :class:`KeyError` that lists the known ones."""

    def __init__(self, kind: str, reserved: tuple[str, ...] = ()) -> None:
        self.kind = kind  # for messages: "search space", "controller"
        self.reserved = reserved  # names that mean something else (a user's own teacher)
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T | None = None):
        """Register ``item`` as ``name``; without ``item``, a decorator that registers the class
        or function it decorates (and gives a class its ``name``)."""
        if item is None:
            return lambda made: self._add(name, made)
        self._add(name, item)
        return None

    def _add(self, name: str, item: T) -> T:
        if name in self._items or name in self.reserved:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if isinstance(item, type):
            item.name = name
        self._items[name] = item
        return item

    def __getitem__(self, name: str) -> T:
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}")
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def build(self, name: str, *args, **kwargs):
        """Call the factory registered as ``name`` with the arguments."""
        return self[name](*args, **kwargs)

    def names(self) -> list[str]:
        """The registered names, sorted (for messages and listings)."""
        return sorted(self._items)


SPACES: Registry[SearchSpace] = Registry("search space")


def register_space(name: str, factory: Callable[..., SearchSpace] | None = None):
    """Make ``factory(**kwargs)`` available as ``get_space(name, **kwargs)``; without
    ``factory``, a decorator."""
    return SPACES.register(name, factory)


def get_space(name: str, **kwargs) -> SearchSpace:
    """Build the space registered as ``name``; keyword arguments go to its factory."""
    return SPACES.build(name, **kwargs)


def available_spaces() -> list[str]:
    return SPACES.names()
