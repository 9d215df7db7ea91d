"""Spaces by name, so that configs can pick one: a tiny registry in the style of fvcore's, filled
by ``@register_space`` where each space is defined."""

from __future__ import annotations

from collections.abc import Callable

from .base import SearchSpace

_SPACES: dict[str, Callable[..., SearchSpace]] = {}


def register_space(name: str, factory: Callable[..., SearchSpace] | None = None):
    """Make ``factory(**kwargs)`` available as ``get_space(name, **kwargs)``; without
    ``factory``, a decorator that registers the class or function it decorates."""
    if factory is None:
        return lambda made: register_space(name, made) or made
    if name in _SPACES:
        raise ValueError(f"search space {name!r} is already registered")
    _SPACES[name] = factory
    return None


def get_space(name: str, **kwargs) -> SearchSpace:
    """Build the space registered as ``name``; keyword arguments go to its factory."""
    if name not in _SPACES:
        raise KeyError(f"unknown search space {name!r}; registered: {', '.join(sorted(_SPACES))}")
    return _SPACES[name](**kwargs)


def available_spaces() -> list[str]:
    return sorted(_SPACES)
