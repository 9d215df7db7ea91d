"""akd: the engine (data, teachers, KD training, latency, reward, search loop)."""

from .distill import kd_loss
from .latency import LatencyConfig, LatencyStats, measure_latency
from .latency_cache import LatencyCache, latency_of
from .latency_lock import CoreLock
from .latency_table import LatencyTable
