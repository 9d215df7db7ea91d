"""Where candidates are evaluated: one small interface, and the slot logic both parallel
backends share.

The driver ``submit``s tasks and takes back ``(task, outcome)`` pairs from ``next_finished`` in the
order they finish, which for parallel backends is not the order they were submitted in. The work is
a module-level function ``(task, config, lock) -> Outcome`` (picklable): candidate evaluation in
the search, from-scratch training in the final stage.

Both parallel backends run each task on one worker they can name, so a worker that dies (killed,
out of memory, its node lost) costs only its own task an attempt: the task is retried on a fresh
worker up to ``MAX_RETRIES`` times, then returned as failed; the tasks on other workers go on.
"""

from __future__ import annotations

import collections
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from ..common.cores import CoreLock
from ..config import RunConfig
from .training import Outcome

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
Work = Callable[[Any, RunConfig, CoreLock | None], Outcome]


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
