"""Measured latency of a model on the target device, as the MnasNet reward needs it.

A measurement is batch 1 at a fixed input size, with a fixed number of intra-op threads (one by
default, as in MnasNet): warm-up runs, then ``repeats`` timed forward passes, summarized by their
median. The median is what the reward uses, because a context switch or a page fault slows a run
but never speeds one up, so the mean drifts with machine load and the median hardly moves. When the
relative interquartile range of the runs is wider than ``max_spread`` the runs are taken again, up
to ``retries`` times, and the tightest attempt is kept; the result says whether it converged.

A shared virtual machine's speed also drifts between windows of tens of milliseconds, which no
per-window median removes: the same student measured minutes apart varied by 20% on the Intel
development host (research/bench_latency.py, docs/results.md#latency). With
``method="interleaved"`` the candidate is timed in short blocks that alternate with a fixed
reference model (candidate-reference, then reference-candidate, so a steady drift cancels too);
each pair of blocks gives the ratio of their medians, taken while the host ran at one speed, and
the latency is the median ratio times the reference's own latency, calibrated once per machine
(:mod:`akd.latency.reference`). That cut the variation to 2.2% in the same run. A ratio tracks the
drift best when both models are alike: a 0.1 ms student is all per-call overhead, a 1.3 ms
reference all arithmetic, and the host's slow windows slow the two unequally (CV 4.6% against the
main reference, 1.8% against a 0.17 ms one in one run). So the references form a ladder, and each
model is timed against the one nearest its own speed.

The rest of the latency story lives in small modules beside this one:

* ``cache``: measured latencies on disk, keyed by what was timed, input size, threads and
  the hardware's name, shared by processes (both search arms, resumed runs); ``latency_of(arch,
  cache)`` builds and measures a student only when no process has measured it yet.
* ``table``: a lookup-table predictor that sums per-layer latencies, for searches that
  cannot afford a measurement per candidate.
* ``akd.cores``: ``CoreLock``, a cross-process lock that keeps measurement (exclusive) and
  training (shared) from running on the same cores at the same time.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from ..common.devices import resolve_device

METHODS = ("direct", "interleaved")
BLOCK_RUNS = 5  # interleaved: runs per block of the slower model, short enough that the host's
# speed holds still; the faster one runs as many times more as it is faster (up to
# MAX_BLOCK_RUNS), so both blocks of a pair span about the same time
MAX_BLOCK_RUNS = 50


@dataclass(frozen=True)
class LatencyConfig:
    """How to time a model; the first three fields also say what a measured latency depends on."""

    input_size: tuple[int, int, int] = (1, 28, 28)  # (channels, height, width); batch is always 1
    threads: int = 1  # intra-op CPU threads while timing (MnasNet measures single-threaded)
    device: torch.device | str = "cpu"  # "cpu", "cuda" or "cuda:N"; normalised to torch.device
    warmup: int = 10  # untimed runs first: allocator, caches and lazy kernel choices settle
    repeats: int = 30  # direct: timed runs per attempt; their median is the latency
    max_spread: float = 0.10  # re-measure when (p75 - p25) / median of the runs is wider
    retries: int = 3  # re-measurements allowed after the first attempt
    method: str = "direct"  # direct: the model's own runs; interleaved: in blocks alternating
    # with a reference model, as the ratio to it (cancels the host's speed drift)
    blocks: int = 20  # interleaved: blocks of the model, each beside one of the reference; the
    # median of their ratios is the latency (6 blocks gave a CV of 9% in a noisy hour, 20 gave 2%)

    def __post_init__(self) -> None:
        size = tuple(self.input_size) if isinstance(self.input_size, (tuple, list)) else ()
        if len(size) != 3 or not all(_is_int(v, minimum=1) for v in size):
            raise ValueError(f"input_size must be (channels, height, width) of ints >= 1, got "
                             f"{self.input_size!r}")
        object.__setattr__(self, "input_size", size)
        object.__setattr__(self, "device", resolve_device(self.device, "latency.device",
                                                             allow_auto=False))
        check_counts(self)
        if self.method not in METHODS:
            raise ValueError(f"method = {self.method!r}; allowed: {', '.join(METHODS)}")


COUNTS = (("threads", 1), ("warmup", 0), ("repeats", 5), ("retries", 0),
          ("blocks", 3))  # name, minimum


def check_counts(settings: object, prefix: str = "") -> None:
    """ValueError naming the first of ``settings``' counts (:data:`COUNTS`) or its
    ``max_spread`` that is out of range (``prefix``: the config section, e.g. ``latency.``)."""
    for name, minimum in COUNTS:
        if not _is_int(getattr(settings, name), minimum):
            raise ValueError(f"{prefix}{name} must be an integer >= {minimum}, got "
                             f"{getattr(settings, name)!r}")
    if not settings.max_spread > 0:
        raise ValueError(f"{prefix}max_spread must be > 0 (a fraction of the median, e.g. 0.1), "
                         f"got {settings.max_spread!r}")


@dataclass(frozen=True)
class LatencyStats:
    """Summary of the timed runs of the kept (tightest) attempt."""

    median_ms: float  # median run: the latency the reward uses
    p10_ms: float  # 10th percentile run
    p90_ms: float  # 90th percentile run
    spread: float  # (p75 - p25) / median: the robust width that decides re-measurement
    cv: float  # std / mean of the runs; outlier-sensitive, so reported but not used to decide
    runs: int  # timed runs behind these numbers
    attempts: int  # attempts made in all (1 + re-measurements)
    converged: bool  # whether the kept attempt's spread is within max_spread
    method: str = "direct"  # how it was taken: direct, or interleaved with the reference
    reference_ms: float | None = None  # interleaved: the reference's calibrated latency; the
    # percentiles and spread are then those of the block ratios, times it
    reference: str | None = None  # interleaved: which reference of the ladder it was timed against


@dataclass(frozen=True)
class Reference:
    """A fixed model that interleaved measurements are ratios to, with its calibrated latency."""

    model: nn.Module
    ms: float  # its latency on this machine and setting (akd.latency.reference calibrates it)
    name: str = "reference"  # what it is, e.g. its architecture string; recorded in the stats


def measure_latency(model: nn.Module,
                    input_size: tuple[int, int, int] = LatencyConfig.input_size,
                    threads: int = LatencyConfig.threads, *,
                    device: torch.device | str = LatencyConfig.device,
                    warmup: int = LatencyConfig.warmup,
                    repeats: int = LatencyConfig.repeats,
                    max_spread: float = LatencyConfig.max_spread,
                    retries: int = LatencyConfig.retries) -> LatencyStats:
    """Time ``model`` at batch 1 on ``device``; see :class:`LatencyConfig` for the arguments.

    The caller's model is left as it was (device, train/eval mode); a copy is timed in eval mode
    under ``torch.inference_mode``. Hold ``CoreLock.measuring()`` around this call wherever
    training may run on the same cores.
    """
    return measure_with(model, LatencyConfig(input_size, threads, device, warmup, repeats,
                                             max_spread, retries))


def measure_with(model: nn.Module, config: LatencyConfig,
                 references: Sequence[Reference] = (),
                 reference_input: tuple[int, int, int] | None = None) -> LatencyStats:
    """:func:`measure_latency` with its settings in one :class:`LatencyConfig`; the interleaved
    method also needs the ``references`` (the ladder: the one whose warm-up runs are nearest the
    model's in speed is used), and the input size they take when it is not
    ``config.input_size`` (a layer of a student is timed against the whole-network references,
    so that every layer shares one scale)."""
    interleaved = config.method == "interleaved"
    if interleaved and (not references or any(not r.ms or r.ms <= 0 for r in references)):
        raise ValueError("method = 'interleaved' needs a reference model and its latency > 0")
    model = copy.deepcopy(model).to(config.device).eval()
    x = torch.randn(1, *config.input_size, device=config.device)
    x_reference = torch.randn(1, *(reference_input or config.input_size), device=config.device)
    sync = torch.cuda.synchronize if config.device.type == "cuda" else _no_sync
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        with torch.inference_mode(), _gc_paused():
            warm = _time_runs(model, x, config.warmup, sync)
            if interleaved:
                reference, reference_warm = _nearest_reference(references, warm, x_reference,
                                                               config, sync)
                runs = balanced_runs(warm, reference_warm)
            best = None
            for attempt in range(1, config.retries + 2):
                if interleaved:
                    ratios = _block_ratios(model, x, reference[0], x_reference, config.blocks,
                                           sync, runs)
                    stats = replace(_summarize(ratios * reference[1].ms), method="interleaved",
                                    reference_ms=reference[1].ms, reference=reference[1].name,
                                    runs=len(ratios) * runs[0])
                else:
                    stats = _summarize(_time_runs(model, x, config.repeats, sync))
                best = stats if best is None or stats.spread < best.spread else best
                if best.spread <= config.max_spread:
                    break
    finally:
        torch.set_num_threads(previous_threads)
    return replace(best, attempts=attempt, converged=best.spread <= config.max_spread)


def _nearest_reference(references: Sequence[Reference], model_warm: np.ndarray,
                       x_reference: torch.Tensor, config: LatencyConfig,
                       sync: Callable[[], None]) -> tuple[tuple[nn.Module, Reference],
                                                          np.ndarray]:
    """The reference (a copy on the device, and the entry) whose warm-up runs are nearest the
    model's in log-speed, with those runs; the first one when there are no warm-up runs to go
    by. Both warm up in the same moment, so the choice does not follow the host's drift."""
    copies = [copy.deepcopy(r.model).to(config.device).eval() for r in references]
    warm = [_time_runs(c, x_reference, config.warmup, sync) for c in copies]
    chosen = 0
    if len(model_warm) and len(references) > 1:
        own = np.log(np.median(model_warm))
        chosen = int(np.argmin([abs(np.log(np.median(w)) - own) for w in warm]))
    return (copies[chosen], references[chosen]), warm[chosen]


def balanced_runs(model_times: np.ndarray, reference_times: np.ndarray) -> tuple[int, int]:
    """Runs per block of the model and of the reference, from their warm-up times: BLOCK_RUNS
    for the slower, proportionally more for the faster (at most MAX_BLOCK_RUNS), so that a
    0.1 ms student's block does not last a twentieth of the reference's, too short a window to
    see the same host speed (BLOCK_RUNS each without warm-up times)."""
    if not len(model_times) or not len(reference_times):
        return BLOCK_RUNS, BLOCK_RUNS
    faster = float(np.median(reference_times) / np.median(model_times))  # > 1: model faster
    more = min(MAX_BLOCK_RUNS, max(BLOCK_RUNS, round(BLOCK_RUNS * max(faster, 1 / faster))))
    return (more, BLOCK_RUNS) if faster > 1 else (BLOCK_RUNS, more)


def _block_ratios(model: nn.Module, x: torch.Tensor, reference: nn.Module,
                  x_reference: torch.Tensor, blocks: int, sync: Callable[[], None],
                  runs: tuple[int, int] = (BLOCK_RUNS, BLOCK_RUNS)) -> np.ndarray:
    """Per pair of adjacent blocks, the model's median run over the reference's, in the order
    model-reference, reference-model, ... so that a drift within a pair cancels over pairs;
    ``runs``: runs per block of the model and of the reference."""
    ratios = []
    for block in range(blocks):
        def model_block() -> float:
            return float(np.median(_time_runs(model, x, runs[0], sync)))

        def reference_block() -> float:
            return float(np.median(_time_runs(reference, x_reference, runs[1], sync)))

        if block % 2 == 0:
            own, other = model_block(), reference_block()
        else:
            other, own = reference_block(), model_block()
        ratios.append(own / other)
    return np.array(ratios)


@functools.lru_cache(maxsize=None)
def device_name(device: torch.device | str) -> str:
    """The hardware behind ``device``, e.g. "cpu: AMD EPYC 7763" or "cuda: NVIDIA H100 80GB HBM3".

    Latencies are only comparable on the same hardware, so this is part of every cache key.
    """
    device = resolve_device(device, "latency.device", allow_auto=False)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {_cpu_model()}"


def _time_runs(model: nn.Module, x: torch.Tensor, runs: int,
               sync: Callable[[], None]) -> np.ndarray:
    """Milliseconds of ``runs`` forward passes, each timed on its own."""
    times = np.empty(runs)
    for i in range(runs):
        sync()  # CUDA launches are asynchronous: wait for the queue before starting the clock
        start = time.perf_counter()
        model(x)
        sync()
        times[i] = time.perf_counter() - start
    return times * 1e3


def _summarize(times_ms: np.ndarray) -> LatencyStats:
    p10, p25, median, p75, p90 = np.percentile(times_ms, (10, 25, 50, 75, 90))
    return LatencyStats(median_ms=float(median), p10_ms=float(p10), p90_ms=float(p90),
                        spread=float((p75 - p25) / median),
                        cv=float(times_ms.std(ddof=1) / times_ms.mean()), runs=len(times_ms),
                        attempts=1, converged=False)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # A garbage-collection pass inside a timed run would be charged to the model.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _no_sync() -> None:
    pass


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: fall back on what the platform module knows
    return platform.processor() or platform.machine() or "unknown"


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum
