"""Where a student's latency comes from: ``latency.*`` of the config, as one function.

:func:`latency_source` yields ``arch -> milliseconds``: measured in this process under the core
lock (``where: driver``), or by a dedicated Ray actor that reserves the target's cores or GPU
(``where: worker``, :mod:`akd.latency.remote`); each either times every student (``mode:
measured``) or sums a per-layer lookup table (``mode: table``), through the cache file so that
nothing is measured twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from ..common.cores import CoreLock
from .local import local_latency
from .settings import LatencySettings


@contextlib.contextmanager
def latency_source(settings: LatencySettings, cache_path: Path,
                   input_size: tuple[int, int, int], num_classes: int, lock: CoreLock,
                   ray_address: str | None = None) -> Iterator[Callable[[str], float]]:
    """``arch -> latency in ms`` as ``settings`` describe, for as long as the block lasts;
    ``cache_path``: the cache file when ``settings.cache`` names none; ``ray_address``: the
    cluster of ``where: worker``."""
    if settings.where == "worker":
        from .remote import latency_worker  # Ray is an optional dependency
        with latency_worker(settings, cache_path, input_size, num_classes,
                            ray_address) as latency:
            yield latency
        return
    yield local_latency(settings, cache_path, input_size, num_classes, lock)
