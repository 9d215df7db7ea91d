"""Where candidates are evaluated: one small interface; serial, process-pool and Ray backends.

The driver ``submit``s tasks and takes back ``(task, outcome)`` pairs from ``next_finished`` in the
order they finish, which for parallel backends is not the order they were submitted in.

* ``serial``: in the driver's process, one at a time, with all the machine's threads.
* ``process``: N spawned worker processes, each pinned to its own cores with a matching torch
  thread budget and each with its own copy of the workspace (dataset and cached teacher logits,
  loaded once per worker).
* ``ray``: Ray actors on this machine or a cluster (:mod:`akd.ray_evaluator`).

Both parallel backends run each task on one worker they can name, so a worker that dies (killed,
out of memory, its node lost) costs only its own task an attempt: the task is retried on a fresh
worker up to ``MAX_RETRIES`` times, then returned as failed; the tasks on other workers go on.

The work is a module-level function ``(task, config, lock) -> Outcome``: candidate evaluation in
the search, from-scratch training in the final stage.
"""

from __future__ import annotations

import atexit
import collections
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
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


class WorkerDied(Exception):
    """A worker process ended while it ran a task (killed, out of memory, node lost)."""


class SlotEvaluator(Evaluator):
    """Parallel backends: one worker per slot, one task per worker at a time. Knowing which
    worker ran which task is what lets a death cost only that task an attempt."""

    def __init__(self, workers: int) -> None:
        self.workers = [self._start(slot) for slot in range(workers)]
        self.idle = collections.deque(range(workers))  # slots with no task
        self.queue: collections.deque[Any] = collections.deque()  # tasks waiting for a slot
        self.running: dict[Any, tuple[Any, int]] = {}  # handle -> (task, slot), oldest first
        self.attempts: collections.Counter[int] = collections.Counter()  # by id(task)
        self.given_up: collections.deque[tuple[Any, Outcome]] = collections.deque()

    @abstractmethod
    def _start(self, slot: int) -> Any:
        """A new worker for ``slot`` (it may still be starting when this returns)."""

    @abstractmethod
    def _run(self, worker: Any, task: Any) -> Any:
        """Start ``task`` on ``worker``; a handle for :meth:`_first_done` and :meth:`_outcome`."""

    @abstractmethod
    def _first_done(self, handles: list[Any]) -> Any:
        """Block until one of ``handles`` is done; that one (the oldest of several)."""

    @abstractmethod
    def _outcome(self, handle: Any) -> Outcome:
        """The finished task's outcome; :class:`WorkerDied` when its worker died under it."""

    @abstractmethod
    def _stop(self, worker: Any) -> None:
        """End ``worker``: at once when it is dead; an idle one when the evaluator closes."""

    def submit(self, task: Any) -> None:
        self.queue.append(task)
        self._dispatch()

    def _dispatch(self) -> None:
        while self.idle and self.queue:
            slot, task = self.idle.popleft(), self.queue.popleft()
            self.running[self._run(self.workers[slot], task)] = (task, slot)

    def next_finished(self) -> tuple[Any, Outcome]:
        while not self.given_up:
            handle = self._first_done(list(self.running))
            task, slot = self.running.pop(handle)
            try:
                outcome = self._outcome(handle)
            except WorkerDied as error:
                self._replace(slot, task, error)
                continue
            self.idle.append(slot)
            self._dispatch()
            return task, outcome
        return self.given_up.popleft()

    def _replace(self, slot: int, task: Any, error: WorkerDied) -> None:
        """A fresh worker for ``slot``; ``task`` (and only it) retried while retries last."""
        self._stop(self.workers[slot])
        self.workers[slot] = self._start(slot)
        self.idle.append(slot)
        self.attempts[id(task)] += 1
        if self.attempts[id(task)] > MAX_RETRIES:
            self.given_up.append((task, Outcome(
                "failed", None, None, None,
                f"its worker died {self.attempts[id(task)]} times ({error})", 0.0)))
        else:
            self.queue.appendleft(task)
        self._dispatch()

    @property
    def in_flight(self) -> int:
        return len(self.queue) + len(self.running) + len(self.given_up)

    def close(self) -> None:
        for worker in self.workers:
            self._stop(worker)


class ProcessEvaluator(SlotEvaluator):
    """Each worker is a one-process pool of its own, so a broken pool names its task."""

    def __init__(self, config: RunConfig, lock: CoreLock | None = None,
                 work: Work = evaluate) -> None:
        self.config, self.lock, self.work = config, lock, work
        self.threads = config.evaluator.threads_per_worker()
        super().__init__(config.evaluator.workers)

    def _start(self, slot: int) -> ProcessPoolExecutor:
        # spawn, not fork: a forked child inherits the parent's OpenMP state and can hang in it
        pool = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"),
                                   initializer=_start_worker,
                                   initargs=(self.config, self.threads, slot))
        pool.submit(int)  # start the process now, not at its first task: all workers boot at once
        return pool

    def _run(self, worker: ProcessPoolExecutor, task: Any) -> Future:
        return worker.submit(self.work, task, self.config, self.lock)

    def _first_done(self, handles: list[Future]) -> Future:
        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        return next(f for f in handles if f in done)

    def _outcome(self, handle: Future) -> Outcome:
        try:
            return handle.result()
        except BrokenProcessPool:
            raise WorkerDied("killed or out of memory") from None

    def _stop(self, worker: ProcessPoolExecutor) -> None:
        # waits for a task in progress: there is none when the search closes the evaluator,
        # and Ctrl-C reaches the worker too (same process group)
        worker.shutdown(wait=True, cancel_futures=True)


def _start_worker(config: RunConfig, threads: int, slot: int) -> None:
    # a worker holds both ends of its task pipe, so it would wait for tasks forever after the
    # driver is killed (kill -9, OOM); a watchdog ends it with the driver instead
    threading.Thread(target=_exit_with, args=(multiprocessing.parent_process().sentinel,),
                     daemon=True, name="exit-with-driver").start()
    pin_to_cores(slot, threads)
    torch.set_num_threads(threads)
    workspace(config)  # load the dataset and teacher logits before the first task arrives
    atexit.register(_exit_now)


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])  # readable once the driver is gone
    os._exit(1)


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
