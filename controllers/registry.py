"""Controllers by name, so that configs can pick one: a tiny registry in the style of fvcore's,
filled by ``@register_controller`` where each controller is defined."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .base import Controller

_CONTROLLERS: dict[str, Callable[..., Controller]] = {}


def register_controller(name: str, factory: Callable[..., Controller] | None = None):
    """Make ``factory(choices, seed=..., **options)`` available as ``get_controller(name, ...)``;
    without ``factory``, a class decorator that registers the class it decorates."""
    if factory is None:
        return lambda cls: register_controller(name, cls) or cls
    if name in _CONTROLLERS:
        raise ValueError(f"controller {name!r} is already registered")
    _CONTROLLERS[name] = factory
    return None


def get_controller(name: str, choices: Sequence[int], seed: int = 0, **options) -> Controller:
    """Build the controller registered as ``name`` over decisions with these numbers of choices.

    ``options`` are the fields of the controller's config dataclass (e.g. ``lr``, ``batch_size``,
    ``population``); an unknown one is a ValueError that lists the valid ones.
    """
    if name not in _CONTROLLERS:
        raise KeyError(f"unknown controller {name!r}; registered: "
                       f"{', '.join(sorted(_CONTROLLERS))}")
    return _CONTROLLERS[name](choices, seed=seed, **options)


def available_controllers() -> list[str]:
    return sorted(_CONTROLLERS)
