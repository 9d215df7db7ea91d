"""What a run config describes, built: the search space, a controller, the latency source.

The search, the final stage, the report and the studies all need these, so they live here,
below all of them, and not in the search loop.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from controllers import Controller, get_controller
from search_spaces import SearchSpace, get_space

from .arms import arm_kind
from .common.cluster import check_reachable, import_ray
from .common.cores import CoreLock
from .common.devices import resolve_device
from .config import RunConfig, cache_dir
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


def arm_choices(config: RunConfig, space: SearchSpace, arm: str) -> list[int]:
    """The choices of ``arm``'s controller: the space's decisions, then, for an arm that
    distils, one decision per KD hyper-parameter ``search.kd`` searches."""
    extra = config.search.kd.choices() if arm_kind(arm).distills else []
    return list(space.choices) + extra


def build_controller(config: RunConfig, space: SearchSpace, arm: str = "akd") -> Controller:
    """A fresh controller of ``config`` for ``space`` and ``arm`` (each arm has its own). The
    LSTM learns from one step's batch at a time (with screening, all the candidates a step asks)
    unless ``controller.options.batch_size`` says otherwise."""
    options = dict(config.controller.options)
    choices = arm_choices(config, space, arm)
    try:
        kind = get_controller(config.controller.name, choices, seed=config.search.seed,
                              **options)  # checks the user's options first
        fields, ordered, free = space.family_spec()  # how a family (autokd) shares them
        implied = {"batch_size": config.search.batch_size * config.search.screening.factor,
                   "family_fields": fields, "family_ordered": list(ordered),
                   "family_free": list(free),
                   "family_values": [list(d.values) for d in space.decisions]}
        implied = {k: v for k, v in implied.items()
                   if k not in options and kind.accepts_option(k)}
        controller = get_controller(config.controller.name, choices, seed=config.search.seed,
                                    **options, **implied) if implied else kind
    except TypeError as error:
        raise ConfigError(f"controller.options: {error}") from None
    except (KeyError, ValueError) as error:  # args[0]: the message, unquoted for a KeyError
        raise ConfigError(error.args[0]) from None
    return controller


def preflight(config: RunConfig) -> SearchSpace:
    """Check, cheaply and writing nothing, what ``config`` asks of this machine: that the space
    and a controller build, that its devices exist here, and that Ray is installed and its
    cluster answers when it is asked for. The space."""
    space = build_space(config)
    build_controller(config, space)
    devices = [("latency.device", config.latency.device),
               ("proxy.device", config.proxy.device),
               ("teacher.training.device", config.teacher.training.device),
               ("final.training.device", config.final.training.device)]
    for key, name in devices:
        check_device(key, name)
    if config.evaluator.backend == "ray" or config.latency.where == "worker":
        import_ray()
        check_reachable(config.evaluator.address)
        check_ray_fits(config)
    return space


def check_device(key: str, name: str) -> None:
    """ConfigError unless the device ``name`` (config key ``key``) exists on this machine."""
    resolve_device(name, key, allow_auto=key != "latency.device")


def check_ray_fits(config: RunConfig) -> None:
    """On a local Ray instance, a latency worker needs CPUs beside the evaluator's workers, or
    Ray keeps it waiting for them forever."""
    settings = config.evaluator
    cpus = settings.num_cpus or settings.threads_per_worker()
    if settings.address is None and config.latency.where == "worker" and \
            settings.workers * cpus + config.latency.threads > (os.cpu_count() or 1):
        raise ConfigError(f"latency.where: worker needs latency.threads = "
                          f"{config.latency.threads} CPU(s) beside the {settings.workers} "
                          f"worker(s) x {cpus}, but this machine has {os.cpu_count()}; lower "
                          "evaluator.workers or evaluator.threads")


def latency_cache(config: RunConfig) -> Path:
    """The latency cache file a run uses unless ``latency.cache`` names one."""
    return cache_dir(config) / "latency.jsonl"


@contextlib.contextmanager
def run_latency(config: RunConfig, input_size: tuple[int, int, int], num_classes: int,
                lock: CoreLock) -> Iterator[Callable[[str], float]]:
    """``arch -> latency in ms`` as ``config.latency`` describes, for as long as the block
    lasts; the cache is ``latency.jsonl`` in the run's cache directory unless it names one."""
    with latency_source(config.latency, latency_cache(config), input_size,
                        num_classes, lock, config.evaluator.address) as latency:
        yield latency
