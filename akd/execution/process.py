"""The process backend: N spawned worker processes on this machine.

Each worker is pinned to its own cores with a matching torch thread budget and holds its own copy
of the workspace (dataset and cached teacher logits, loaded once when it starts). Each is a
one-process pool of its own, so a broken pool names the task it was running.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

from ..common.cores import CoreLock, pin_to_cores
from ..config import RunConfig
from .base import SlotEvaluator, Work, WorkerDied
from .training import Outcome
from .workspace import workspace


class ProcessEvaluator(SlotEvaluator):
    """Each worker is a one-process pool of its own, so a broken pool names its task."""

    def __init__(self, config: RunConfig, work: Work, lock: CoreLock | None = None) -> None:
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
    (CPU time per worker that the search would wait for); results have already been
    sent synchronously, so nothing is lost."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
