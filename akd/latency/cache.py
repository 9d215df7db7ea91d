"""Measured latencies kept on disk, so that nothing is measured twice in a search.

The cache is a JSON Lines file: one ``{"key": {...}, "stats": {...}}`` object a line, appended in
a single ``write`` with ``O_APPEND``, so processes sharing the file (both search arms, a resumed
run, the latency table) never overwrite each other and a crash loses at most the line being
written, which is then skipped with a warning. A key names what was timed (an architecture with
its class count, or one layer), its input size, the thread count and the hardware's name, so a
cache copied to another machine misses instead of answering wrongly. Each process reads the lines
that others appended whenever it misses, after taking the core lock, so two processes never both
measure the same thing when they share a :class:`~akd.cores.CoreLock`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from torch import nn
from tqdm import tqdm

from search_spaces import Architecture, build_model, parse_arch

from ..common.cores import CoreLock
from ..common.io import append_line
from .measure import LatencyConfig, LatencyStats, Reference, device_name, measure_with
from .reference import (CALIBRATION_ROUNDS, REFERENCE_ARCH, REFERENCES, calibrate, calibrate_rung,
                        reference_model, reference_names)


@dataclass(frozen=True)
class LatencyJob:
    """One module to time: what it is, its settings, and how to build it on a miss."""

    names: dict  # what is timed, e.g. {"arch": "cn_r1_...", "num_classes": 10} or {"layer": ...}
    config: LatencyConfig  # this module's input size, threads, device and timing options
    build: Callable[[], nn.Module] | None  # called only when the cache misses
    reference_input: tuple[int, int, int] | None = None  # interleaved: the input size the
    # reference runs at, when not this module's own: a student's layers are all timed against
    # the reference at the student's input, so their latencies share one calibrated scale

    def key(self) -> str:
        """Canonical JSON of what the latency depends on (timing options are not part of it;
        the method is, when it is not the plain direct one)."""
        method = reference_names(self.reference_input) \
            if self.config.method == "interleaved" else {}
        return _canonical({**self.names, **method, "input_size": list(self.config.input_size),
                           "threads": self.config.threads,
                           "device": device_name(self.config.device)})


class LatencyCache:
    """Latency stats by key, in memory and (when ``path`` is given) in a JSON Lines file."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._stats: dict[str, LatencyStats] = {}
        self._read_upto = 0  # bytes of the file already read: only lines appended since are new
        self._ladders: dict[str, list[Reference]] = {}  # built once per setting, not per miss
        self.refresh()

    def __len__(self) -> int:
        return len(self._stats)

    def get(self, job: LatencyJob) -> LatencyStats | None:
        return self._stats.get(job.key())

    def lookup(self, jobs: Sequence[LatencyJob], lock: CoreLock | None = None,
               progress: bool = False) -> list[LatencyStats]:
        """Stats of every job, measuring (inside ``lock.measuring()``) only what nobody has."""
        if any(self.get(job) is None for job in jobs):
            with lock.measuring() if lock else contextlib.nullcontext():
                self.refresh()  # another process may have measured some while we waited
                missing = {job.key(): job for job in jobs if self.get(job) is None}
                for key, job in tqdm(missing.items(), desc="measuring latency", unit="module",
                                     disable=not progress):
                    self._append(key, self._measure(job))
        return [self.get(job) for job in jobs]

    def _measure(self, job: LatencyJob) -> LatencyStats:
        """Time ``job``'s module (the caller holds the core lock); an interleaved measurement
        against the reference ladder, calibrated first when this cache has not yet."""
        if job.config.method != "interleaved":
            return measure_with(job.build(), job.config)
        at = dataclasses.replace(job.config, input_size=job.reference_input or
                                 job.config.input_size)  # where the references run
        return measure_with(job.build(), job.config, self.references(at),
                            reference_input=at.input_size)

    def references(self, at: LatencyConfig) -> list[Reference]:
        """The references at ``at`` with their calibrated latencies, each calibrated once per
        cache (machine and setting): the main rung directly, the others against it."""
        main_job = LatencyJob({"calibration": REFERENCE_ARCH, "rounds": CALIBRATION_ROUNDS},
                              dataclasses.replace(at, method="direct"), None)
        if main_job.key() in self._ladders:
            return self._ladders[main_job.key()]
        main = self._calibration(main_job, lambda: calibrate(at))
        ladder = [Reference(reference_model(at), main.median_ms, REFERENCE_ARCH)]
        for arch in REFERENCES[1:]:
            rung_job = LatencyJob({"calibration": arch, "against": REFERENCE_ARCH,
                                   "rounds": CALIBRATION_ROUNDS},
                                  dataclasses.replace(at, method="interleaved"), None)
            rung = self._calibration(rung_job,
                                     lambda arch=arch: calibrate_rung(at, arch, main.median_ms))
            ladder.append(Reference(reference_model(at, arch), rung.median_ms, arch))
        self._ladders[main_job.key()] = ladder
        return ladder

    def _calibration(self, job: LatencyJob, measure: Callable[[], LatencyStats]) -> LatencyStats:
        stats = self.get(job)
        if stats is None:
            stats = measure()
            self._append(job.key(), stats)
        return stats

    def refresh(self) -> None:
        """Read the complete lines other processes appended since the last read."""
        if self.path is None or not self.path.exists():
            return
        with open(self.path, "rb") as file:
            file.seek(self._read_upto)
            data = file.read()
        complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits for next time
        self._read_upto += len(complete)
        for number, line in enumerate(complete.splitlines(), 1):
            try:
                entry = json.loads(line)
                self._stats[_canonical(entry["key"])] = LatencyStats(**entry["stats"])
            except (ValueError, KeyError, TypeError) as error:
                warnings.warn(f"latency cache {self.path}: skipping unreadable line ({error}); "
                              "that entry will be measured again", stacklevel=2)

    def _append(self, key: str, stats: LatencyStats) -> None:
        self._stats[key] = stats
        if self.path is None:
            return
        append_line(self.path, {"key": json.loads(key), "stats": dataclasses.asdict(stats)})


def latency_of(arch: Architecture | str, cache: LatencyCache,
               config: LatencyConfig = LatencyConfig(), num_classes: int = 10,
               lock: CoreLock | None = None) -> LatencyStats:
    """Measured latency of the student ``arch`` builds, measuring only on a cache miss."""
    arch = parse_arch(arch) if isinstance(arch, str) else arch
    build = partial(build_model, arch, num_classes=num_classes, in_channels=config.input_size[0])
    job = LatencyJob({"arch": str(arch), "num_classes": num_classes}, config, build)
    return cache.lookup([job], lock)[0]


def _canonical(key: dict) -> str:
    return json.dumps(key, sort_keys=True)
