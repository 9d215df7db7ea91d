"""Latency measured in this process, under the core lock, through the cache file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..common.cores import CoreLock
from .cache import LatencyCache, latency_of
from .settings import LatencySettings
from .table import LatencyTable


def local_latency(settings: LatencySettings, cache_path: Path, input_size: tuple[int, int, int],
                  num_classes: int, lock: CoreLock) -> Callable[[str], float]:
    """``arch -> latency in ms`` measured in this process, under ``lock``."""
    timing = settings.timing(input_size)
    cache = LatencyCache(settings.cache or cache_path)
    if settings.mode == "table":
        return LatencyTable(cache, timing, num_classes, lock).predict
    return lambda arch: latency_of(arch, cache, timing, num_classes, lock).median_ms
