"""Spaces by name, so that configs can pick one: a tiny registry in the style of fvcore's."""

from __future__ import annotations

from collections.abc import Callable

from .base import SearchSpace
from .mnasnet_space import mnasnet_space
from .toy_space import ToySpace

_SPACES: dict[str, Callable[..., SearchSpace]] = {}


def register_space(name: str, factory: Callable[..., SearchSpace]) -> None:
    if name in _SPACES:
        raise ValueError(f"search space {name!r} is already registered")
    _SPACES[name] = factory


def get_space(name: str, **kwargs) -> SearchSpace:
    """Build the space registered as ``name``; keyword arguments go to its factory."""
    if name not in _SPACES:
        raise KeyError(f"unknown search space {name!r}; registered: {', '.join(sorted(_SPACES))}")
    return _SPACES[name](**kwargs)


def available_spaces() -> list[str]:
    return sorted(_SPACES)


register_space("mnasnet", mnasnet_space)
register_space("toy", ToySpace)
