"""Where candidates are evaluated: one small interface; serial, process-pool and Ray backends.

The driver ``submit``s tasks and takes back ``(task, outcome)`` pairs from ``next_finished`` in the
order they finish, which for parallel backends is not the order they were submitted in.

* ``serial``: in the driver's process, one at a time, with all the machine's threads.
* ``process``: a local pool of N spawned workers, each pinned to its own cores with a matching
  torch thread budget and each with its own copy of the workspace (dataset and cached teacher
  logits, loaded once per worker). A worker that dies (killed, out of memory) breaks the pool:
  the pool is rebuilt and the tasks it held are submitted again, up to ``MAX_RETRIES`` times
  each, then returned as failed. The pool cannot say which task killed it, so every task in
  flight at a death counts one attempt.

* ``ray``: Ray actors on this machine or a cluster (:mod:`akd.ray_evaluator`); a dead actor
  costs only its own task an attempt.

The work is a module-level function ``(task, config, lock) -> Outcome``: candidate evaluation in
the search, from-scratch training in the final stage.
"""

from __future__ import annotations

import atexit
import collections
import multiprocessing
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

from .config import RunConfig
from .evaluation import Outcome, evaluate, workspace
from .latency_lock import CoreLock

MAX_RETRIES = 2  # resubmissions of a candidate whose worker died, before it counts as failed


class Evaluator(ABC):
    """Evaluates tasks; results come back as they finish."""

    @abstractmethod
    def submit(self, task: Any) -> None:
        """Queue ``task``; returns at once."""

    @abstractmethod
    def next_finished(self) -> tuple[Any, Outcome]:
        """Block until a submitted task finishes; its task and outcome."""

    @property
    @abstractmethod
    def in_flight(self) -> int:
        """Tasks submitted and not yet returned by ``next_finished``."""

    def close(self) -> None:
        """Release workers; the evaluator cannot be used afterwards."""

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# What an evaluator runs: (task, config, lock) -> Outcome, a module-level function (picklable).
Work = Callable[[Any, RunConfig, "CoreLock | None"], Outcome]


class SerialEvaluator(Evaluator):
    def __init__(self, config: RunConfig, lock: CoreLock | None = None,
                 work: Work = evaluate) -> None:
        self.config, self.lock, self.work = config, lock, work
        self.queue: collections.deque[Any] = collections.deque()

    def submit(self, task: Any) -> None:
        self.queue.append(task)

    def next_finished(self) -> tuple[Any, Outcome]:
        task = self.queue.popleft()
        return task, self.work(task, self.config, self.lock)

    @property
    def in_flight(self) -> int:
        return len(self.queue)


class ProcessEvaluator(Evaluator):
    def __init__(self, config: RunConfig, lock: CoreLock | None = None,
                 work: Work = evaluate) -> None:
        self.config, self.lock, self.work = config, lock, work
        self.workers = config.evaluator.workers
        self.threads = config.evaluator.threads_per_worker()
        self.futures: dict[Future, Any] = {}  # in submission order
        self.attempts: collections.Counter[int] = collections.Counter()  # by id(task)
        self.given_up: collections.deque[tuple[Any, Outcome]] = collections.deque()
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: a forked child inherits the parent's OpenMP state and can hang in it
        context = multiprocessing.get_context("spawn")
        started = context.Value("i", 0)  # hands each worker its own slice of the cores
        return ProcessPoolExecutor(self.workers, context, initializer=_start_worker,
                                   initargs=(self.config, self.threads, started))

    def submit(self, task: Any) -> None:
        self.futures[self.pool.submit(self.work, task, self.config, self.lock)] = task

    def next_finished(self) -> tuple[Any, Outcome]:
        while not self.given_up:
            done, _ = wait(self.futures, return_when=FIRST_COMPLETED)
            future = next(f for f in self.futures if f in done)  # oldest first
            task = self.futures.pop(future)
            try:
                return task, future.result()
            except BrokenProcessPool:
                self._restart([task])
        return self.given_up.popleft()

    @property
    def in_flight(self) -> int:
        return len(self.futures) + len(self.given_up)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _restart(self, lost: list[Any]) -> None:
        """Rebuild the broken pool and resubmit every task it held, while retries last."""
        lost += self.futures.values()
        self.futures.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._new_pool()
        for task in lost:
            self.attempts[id(task)] += 1
            if self.attempts[id(task)] > MAX_RETRIES:
                self.given_up.append((task, Outcome(
                    "failed", None, None, None,
                    f"its worker died {self.attempts[id(task)]} times (killed or out of memory)",
                    0.0)))
            else:
                self.submit(task)


def _start_worker(config: RunConfig, threads: int, started) -> None:
    with started.get_lock():
        index, started.value = started.value, started.value + 1
    pin_to_cores(index, threads)
    torch.set_num_threads(threads)
    workspace(config)  # load the dataset and teacher logits before the first task arrives
    atexit.register(_exit_now)


def _exit_now() -> None:
    """A pool worker's last act: skip the interpreter's teardown of torch and the workspace
    (about 0.5 s of CPU per worker that the search would wait for); results have already been
    sent synchronously, so nothing is lost."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def pin_to_cores(index: int, threads: int) -> None:
    """Bind worker ``index`` to its own ``threads`` cores, so workers never share a core."""
    if not hasattr(os, "sched_setaffinity"):  # macOS, Windows: threads alone bound the budget
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= threads:
        first = (index * threads) % len(cores)
        mine = (cores * 2)[first:first + threads]
        os.sched_setaffinity(0, mine)


def make_evaluator(config: RunConfig, lock: CoreLock | None = None,
                   work: Work = evaluate) -> Evaluator:
    """The backend ``config.evaluator.backend`` names, running ``work`` on each task."""
    if config.evaluator.backend == "process":
        return ProcessEvaluator(config, lock, work)
    if config.evaluator.backend == "ray":
        from .ray_evaluator import RayEvaluator  # Ray is an optional dependency
        return RayEvaluator(config, lock, work)
    return SerialEvaluator(config, lock, work)
