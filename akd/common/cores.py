"""Sharing the machine's cores: a cross-process lock that keeps latency measurement off cores
that are training, and pinning each worker to cores of its own.

A latency taken while another process trains on the same cores measures the contention, not the
model. Every process that trains or measures on a set of cores shares one lock file: training holds
it shared (any number of trainers at once), measuring holds it exclusive (alone)::

    lock = CoreLock()                      # or CoreLock("runs/cores.lock")
    with lock.training():
        train(student)
    with lock.measuring():
        stats = measure_latency(student, (1, 28, 28))

``latency_of`` and ``LatencyTable`` take the lock as an argument and hold it while they measure.
The default path (``$AKD_CORE_LOCK``, else ``akd-cores.lock`` in the temp directory) is one file per
machine, which is right when all processes share the cores; give processes pinned to disjoint cores
different paths. The lock is ``fcntl.flock`` (Linux, macOS): the kernel releases it when a process
dies, so a crashed run never leaves it held.

A measurer is never starved by trainers that keep overlapping: everyone passes a gate file first,
and a measurer keeps the gate while it waits, so trainers arriving after it queue behind it. For the
same reason a thread must not nest the two (or either in itself): it would wait for itself, and
:class:`CoreLock` raises ``RuntimeError`` instead of hanging.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

# (lock path, thread id) -> the mode that thread holds, to refuse nesting before it deadlocks.
_HELD: dict[tuple[str, int], str] = {}


class CoreLock:
    """Shared for training, exclusive for measuring; one lock file per set of cores."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        default = os.environ.get("AKD_CORE_LOCK") or Path(tempfile.gettempdir()) / "akd-cores.lock"
        self.path = Path(path if path is not None else default)
        self.gate = self.path.with_name(self.path.name + ".gate")

    def measuring(self) -> contextlib.AbstractContextManager[None]:
        """Hold the cores alone: waits for running trainers, blocks new ones until it leaves."""
        return self._hold("measuring", fcntl.LOCK_EX)

    def training(self) -> contextlib.AbstractContextManager[None]:
        """Share the cores with other trainers: waits while a measurement runs or waits."""
        return self._hold("training", fcntl.LOCK_SH)

    @contextlib.contextmanager
    def _hold(self, mode: str, operation: int) -> Iterator[None]:
        held = (str(self.path.resolve()), threading.get_ident())
        if held in _HELD:
            raise RuntimeError(f"core lock {self.path}: this thread already holds it for "
                               f"{_HELD[held]}; entering {mode} inside it would wait for itself, "
                               "so leave that block first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.gate, "a") as gate, open(self.path, "a") as lock:
            fcntl.flock(gate, fcntl.LOCK_EX)
            try:
                fcntl.flock(lock, operation)
            finally:
                fcntl.flock(gate, fcntl.LOCK_UN)
            _HELD[held] = mode
            try:
                yield
            finally:
                del _HELD[held]
                fcntl.flock(lock, fcntl.LOCK_UN)


def pin_to_cores(index: int, threads: int) -> None:
    """Bind worker ``index`` to its own ``threads`` cores, so workers never share a core."""
    if not hasattr(os, "sched_setaffinity"):  # macOS, Windows: threads alone bound the budget
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= threads:
        first = (index * threads) % len(cores)
        mine = (cores * 2)[first:first + threads]
        os.sched_setaffinity(0, mine)
