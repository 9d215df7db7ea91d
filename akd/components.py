"""What a run config describes, built: the search space, a controller, the latency source.

The search, the final stage, the report and the studies all need these, so they live here,
below all of them, and not in the search loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from controllers import Controller, get_controller
from search_spaces import SearchSpace, get_space

from .config import RunConfig, cache_dir
from .cores import CoreLock
from .errors import ConfigError
from .latency import latency_source


def space_kwargs(config: RunConfig) -> dict:
    """The keyword arguments of the space's factory: its options and preset."""
    kwargs = dict(config.space.options)
    if config.space.preset is not None:
        kwargs["preset"] = config.space.preset
    return kwargs


def build_space(config: RunConfig) -> SearchSpace:
    """The search space ``config.space`` names, with its preset and options."""
    try:
        return get_space(config.space.name, **space_kwargs(config))
    except TypeError as error:  # an option the space's factory does not take
        raise ConfigError(f"space.options: {error}") from None
    except (KeyError, ValueError) as error:  # args[0]: the message, unquoted for a KeyError
        raise ConfigError(error.args[0]) from None


def build_controller(config: RunConfig, space: SearchSpace) -> Controller:
    """A fresh controller of ``config`` for ``space`` (each arm has its own). The LSTM learns
    from one step's batch at a time unless ``controller.options.batch_size`` says otherwise."""
    options = dict(config.controller.options)
    try:
        controller = get_controller(config.controller.name, space.choices,
                                    seed=config.search.seed, **options)
        if "batch_size" not in options and controller.accepts_option("batch_size"):
            controller = get_controller(config.controller.name, space.choices,
                                        seed=config.search.seed, **options,
                                        batch_size=config.search.batch_size)
    except TypeError as error:
        raise ConfigError(f"controller.options: {error}") from None
    except (KeyError, ValueError) as error:  # args[0]: the message, unquoted for a KeyError
        raise ConfigError(error.args[0]) from None
    return controller


@contextlib.contextmanager
def run_latency(config: RunConfig, input_size: tuple[int, int, int], num_classes: int,
                lock: CoreLock) -> Iterator[Callable[[str], float]]:
    """``arch -> latency in ms`` as ``config.latency`` describes, for as long as the block
    lasts; the cache is ``latency.jsonl`` in the run's cache directory unless it names one."""
    with latency_source(config.latency, cache_dir(config) / "latency.jsonl", input_size,
                        num_classes, lock, config.evaluator.address) as latency:
        yield latency
