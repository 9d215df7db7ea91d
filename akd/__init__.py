"""akd: architecture-aware knowledge distillation (the engine: data, teachers, KD training,
latency, evaluators, the search loop, the final stage, the report)."""

from .common.cores import CoreLock
from .distill import kd_loss
from .errors import AkdError
from .latency import (LatencyCache, LatencyConfig, LatencyStats, LatencyTable, latency_of,
                      measure_latency)
from .tables import Ladder, Table, load_ladder, load_table

__all__ = ["AkdError", "CoreLock", "LatencyCache", "LatencyConfig", "LatencyStats",
           "LatencyTable", "Ladder", "Table", "kd_loss", "latency_of", "load_ladder", "load_table",
           "measure_latency"]
