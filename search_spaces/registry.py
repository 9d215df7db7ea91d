"""Things by name, so that configs can pick one: a tiny registry in the style of fvcore's, filled
by a decorator where each thing is defined. The spaces' registry is here; the controllers use the
same :class:`Registry` for theirs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from .base import SearchSpace

T = TypeVar("T")


class Registry(Generic[T]):
    """Factories of one kind of thing by name, in the order they were registered."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # for messages: "search space", "controller"
        self.factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T] | None = None):
        """Register ``factory`` as ``name``; without ``factory``, a decorator that registers
        the class or function it decorates (and gives a class its ``name``)."""
        if factory is None:
            return lambda made: self._add(name, made)
        self._add(name, factory)
        return None

    def _add(self, name: str, factory: Callable[..., T]) -> Callable[..., T]:
        if name in self.factories:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if isinstance(factory, type):
            factory.name = name
        self.factories[name] = factory
        return factory

    def build(self, name: str, *args, **kwargs) -> T:
        if name not in self.factories:
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}")
        return self.factories[name](*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self.factories)


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
