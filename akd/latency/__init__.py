"""Latency: measuring a model (batch 1, fixed threads, median), the on-disk cache, the per-layer
lookup table, and where a run's latencies come from (:mod:`akd.latency.source`)."""

from ..common.cores import CoreLock
from .cache import LatencyCache, LatencyJob, latency_of
from .local import local_latency
from .measure import (LatencyConfig, LatencyStats, Reference, device_name, measure_latency,
                      measure_with)
from .settings import LatencySettings
from .source import latency_source
from .table import LatencyTable

__all__ = ["CoreLock", "LatencyCache", "LatencyConfig", "LatencyJob", "LatencySettings",
           "LatencyStats", "LatencyTable", "Reference", "device_name", "latency_of",
           "latency_source", "local_latency", "measure_latency", "measure_with"]
