"""``latency.*`` of a run config: how and where a student's latency is taken."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.fields import option
from .measure import METHODS, LatencyConfig, check_counts


@dataclass(frozen=True)
class LatencySettings:
    mode: str = option("measured", help="measured: time every student; table: sum a per-layer "
                                        "lookup table")
    cache: str | None = option(None, help="JSON Lines cache file; null: latency.jsonl in the cache "
                                          "directory")
    threads: int = option(1, help="intra-op threads while timing (MnasNet: single-threaded)")
    device: str = option("cpu", help="the target device the latency is for: cpu, cuda, cuda:N")
    warmup: int = option(10, help="untimed runs before timing")
    repeats: int = option(30, help="direct: timed runs; their median is the latency")
    max_spread: float = option(0.10, help="re-measure when the relative interquartile range is "
                                          "wider")
    retries: int = option(3, help="re-measurements allowed")
    method: str = option("interleaved", help="interleaved: timed in blocks alternating with a "
                                             "fixed reference model, as the ratio to it times its "
                                             "calibrated latency, which cancels the host's speed "
                                             "drift; direct: the student's own runs alone")
    blocks: int = option(20, help="interleaved: blocks of the student, each beside a block of the "
                                  "reference")
    where: str = option("driver", help="driver: measured in this process, on this machine; worker: "
                                       "by a dedicated Ray actor that reserves `threads` CPUs (and "
                                       "a GPU for cuda) on its own")
    resource: str | None = option(None, help="where=worker: a custom Ray resource that only the "
                                             "target machine offers (ray start "
                                             "--resources='{\"target\": 1}'), so the actor runs "
                                             "there")

    def __post_init__(self) -> None:
        if self.mode not in ("measured", "table"):
            raise ValueError(f"latency.mode = {self.mode!r}; allowed: measured, table")
        if self.where not in ("driver", "worker"):
            raise ValueError(f"latency.where = {self.where!r}; allowed: driver, worker")
        if self.resource and self.where != "worker":
            raise ValueError("latency.resource needs latency.where: worker")
        if self.method not in METHODS:
            raise ValueError(f"latency.method = {self.method!r}; allowed: {', '.join(METHODS)}")
        check_counts(self, "latency.")  # at load, not when the first student is timed

    def timing(self, input_size: tuple[int, int, int]) -> LatencyConfig:
        return LatencyConfig(input_size, self.threads, self.device, self.warmup, self.repeats,
                             self.max_spread, self.retries, self.method, self.blocks)
