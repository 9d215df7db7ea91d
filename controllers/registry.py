"""Controllers by name, so that configs can pick one, filled by ``@register_controller`` where
each controller is defined (the registry class is the search spaces')."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from search_spaces.registry import Registry

from .base import Controller

CONTROLLERS: Registry[Controller] = Registry("controller")


def register_controller(name: str, factory: Callable[..., Controller] | None = None):
    """Make ``factory(choices, seed=..., **options)`` available as ``get_controller(name, ...)``;
    without ``factory``, a class decorator that registers the class as ``name``."""
    return CONTROLLERS.register(name, factory)


def get_controller(name: str, choices: Sequence[int], seed: int = 0, **options) -> Controller:
    """Build the controller registered as ``name`` over decisions with these numbers of choices.

    ``options`` are the fields of the controller's config dataclass (e.g. ``lr``, ``batch_size``,
    ``population``); an unknown one is a ValueError that lists the valid ones.
    """
    return CONTROLLERS.build(name, choices, seed=seed, **options)


def available_controllers() -> list[str]:
    return CONTROLLERS.names()
