"""The Ray backend: each worker is a Ray actor, from a laptop to a cluster.

``evaluator.workers`` actors each reserve ``evaluator.num_cpus`` CPUs and ``evaluator.num_gpus``
GPUs and keep the workspace (dataset and cached teacher logits) loaded, read once from
``cache_dir`` when the actor starts: the driver fills every cache before the first actor starts,
so on a cluster ``cache_dir`` has to be a path every node sees (a shared file system). Tasks never
carry the data, only the candidate.

A task runs on exactly one actor, so when an actor dies (killed, out of memory, its node lost)
Ray says which call failed: only that task counts an attempt (see :class:`SlotEvaluator`).

``evaluator.address``: null starts a local Ray instance with this machine's cores, "auto" (or a
``ray://`` address) joins a running cluster; the program has one connection (:mod:`akd.cluster`).
"""

from __future__ import annotations

from typing import Any

import torch

from ..common.cluster import connect, import_ray
from ..common.cores import CoreLock, pin_to_cores
from ..components import check_ray_fits
from ..config import RunConfig
from .base import SlotEvaluator, Work, WorkerDied
from .training import Outcome, describe_error
from .workspace import workspace


class RayWorker:
    """One Ray actor: pinned (on a local instance), its workspace loaded once."""

    def __init__(self, config: RunConfig, work: Work, lock: CoreLock | None, threads: int,
                 index: int | None) -> None:
        if index is not None:
            pin_to_cores(index, threads)
        torch.set_num_threads(threads)
        self.config, self.work, self.lock = config, work, lock
        self.load_error = None
        try:
            workspace(config)
        except Exception as error:  # e.g. a cluster node that does not see cache_dir
            self.load_error = f"worker could not load the dataset and teacher logits from " \
                              f"cache_dir: {describe_error(error)}"

    def run(self, task: Any) -> Outcome:
        if self.load_error:
            return Outcome("failed", None, None, None, self.load_error, 0.0)
        return self.work(task, self.config, self.lock)


class RayEvaluator(SlotEvaluator):
    def __init__(self, config: RunConfig, work: Work, lock: CoreLock | None = None) -> None:
        ray = import_ray()
        self.ray, self.config, self.lock, self.work = ray, config, lock, work
        settings = config.evaluator
        self.threads = settings.threads_per_worker()
        self.local = settings.address is None
        cpus = settings.num_cpus or self.threads
        check_ray_fits(config)
        connect(settings.address)
        self.actor_class = ray.remote(RayWorker).options(
            num_cpus=cpus, num_gpus=settings.num_gpus, max_restarts=0)
        super().__init__(settings.workers)

    def _start(self, slot: int):
        return self.actor_class.remote(self.config, self.work, self.lock, self.threads,
                                       slot if self.local else None)

    def _run(self, worker, task: Any):
        return worker.run.remote(task)

    def _first_done(self, handles: list):
        ready, _ = self.ray.wait(handles, num_returns=1)
        return ready[0]

    def _outcome(self, handle) -> Outcome:
        from ray.exceptions import OutOfMemoryError, RayActorError, WorkerCrashedError
        try:
            return self.ray.get(handle)
        except (RayActorError, WorkerCrashedError, OutOfMemoryError) as error:
            raise WorkerDied(f"{type(error).__name__}: killed, out of memory or node "
                             "lost") from None

    def _stop(self, worker) -> None:
        self.ray.kill(worker)
