"""The serial backend: in the driver's process, one task at a time, with all the machine's
threads."""

from __future__ import annotations

import collections
from typing import Any

from ..common.cores import CoreLock
from ..config import RunConfig
from .base import Evaluator, Work
from .training import Outcome


class SerialEvaluator(Evaluator):
    def __init__(self, config: RunConfig, work: Work, lock: CoreLock | None = None) -> None:
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
