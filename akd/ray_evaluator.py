"""The Ray backend: each worker is a Ray actor, from a laptop to a cluster.

``evaluator.workers`` actors each reserve ``evaluator.num_cpus`` CPUs and ``evaluator.num_gpus``
GPUs and keep the workspace (dataset and cached teacher logits) loaded, read once from
``cache_dir`` when the actor starts: the driver fills every cache before the first actor starts,
so on a cluster ``cache_dir`` has to be a path every node sees (a shared file system). Tasks never
carry the data, only the candidate.

A task runs on exactly one actor, so when an actor dies (killed, out of memory, its node lost)
Ray says which call failed: only that task counts an attempt; it is retried on a fresh actor up to
``MAX_RETRIES`` times, then returned as failed. The other tasks in flight are untouched.

``evaluator.address``: null starts a local Ray instance with this machine's cores, "auto" (or a
``ray://`` address) joins a running cluster. Either way the connection is made once per program:
the search, the latency worker and the final stage share it (starting a local instance costs about
2.5 s, stopping it 1.4 s), and Ray ends it when the program exits (a local instance stops with it).
"""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig
from .evaluation import Outcome, describe_error, evaluate, workspace
from .evaluator import MAX_RETRIES, Evaluator, Work, pin_to_cores
from .latency_lock import CoreLock

ROOT = Path(__file__).resolve().parents[1]  # so actors import akd from a checkout, too


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

    def pid(self) -> int:
        return os.getpid()


class RayEvaluator(Evaluator):
    def __init__(self, config: RunConfig, lock: CoreLock | None = None,
                 work: Work = evaluate) -> None:
        try:
            import ray
        except ImportError:
            raise ValueError("evaluator.backend: ray needs Ray; install it with "
                             "pip install -c constraints.txt -e '.[ray]'") from None
        self.ray, self.config, self.lock, self.work = ray, config, lock, work
        settings = config.evaluator
        self.threads = settings.threads_per_worker()
        self.local = settings.address is None
        cpus = settings.num_cpus or self.threads
        if self.local and config.latency.where == "worker" and \
                settings.workers * cpus + config.latency.threads > (os.cpu_count() or 1):
            # Ray would keep an actor waiting for CPUs forever
            raise ValueError(f"latency.where: worker needs latency.threads = "
                             f"{config.latency.threads} CPU(s) beside the {settings.workers} "
                             f"worker(s) x {cpus}, but this machine has {os.cpu_count()}; lower "
                             "evaluator.workers or evaluator.threads")
        init_ray(config)
        self.actor_class = ray.remote(RayWorker).options(
            num_cpus=settings.num_cpus or self.threads, num_gpus=settings.num_gpus,
            max_restarts=0)
        self.actors = [self._new_actor(slot) for slot in range(settings.workers)]
        self.idle = collections.deque(range(settings.workers))  # actor slots with no task
        self.queue: collections.deque[Any] = collections.deque()  # tasks waiting for an actor
        self.running: dict[Any, tuple[Any, int]] = {}  # object ref -> (task, actor slot)
        self.attempts: collections.Counter[int] = collections.Counter()  # by id(task)
        self.given_up: collections.deque[tuple[Any, Outcome]] = collections.deque()

    def _new_actor(self, slot: int):
        return self.actor_class.remote(self.config, self.work, self.lock, self.threads,
                                       slot if self.local else None)

    def submit(self, task: Any) -> None:
        self.queue.append(task)
        self._dispatch()

    def _dispatch(self) -> None:
        while self.idle and self.queue:
            slot, task = self.idle.popleft(), self.queue.popleft()
            self.running[self.actors[slot].run.remote(task)] = (task, slot)

    def next_finished(self) -> tuple[Any, Outcome]:
        from ray.exceptions import OutOfMemoryError, RayActorError, WorkerCrashedError
        while not self.given_up:
            ready, _ = self.ray.wait(list(self.running), num_returns=1)
            task, slot = self.running.pop(ready[0])
            try:
                outcome = self.ray.get(ready[0])
            except (RayActorError, WorkerCrashedError, OutOfMemoryError) as error:
                self._replace(slot, task, error)
                continue
            self.idle.append(slot)
            self._dispatch()
            return task, outcome
        return self.given_up.popleft()

    def _replace(self, slot: int, task: Any, error: Exception) -> None:
        """A fresh actor for ``slot``; ``task`` (and only it) retried while retries last."""
        self.ray.kill(self.actors[slot])
        self.actors[slot] = self._new_actor(slot)
        self.idle.append(slot)
        self.attempts[id(task)] += 1
        if self.attempts[id(task)] > MAX_RETRIES:
            self.given_up.append((task, Outcome(
                "failed", None, None, None,
                f"its worker died {self.attempts[id(task)]} times ({type(error).__name__}: "
                "killed, out of memory or node lost)", 0.0)))
        else:
            self.queue.appendleft(task)
        self._dispatch()

    @property
    def in_flight(self) -> int:
        return len(self.queue) + len(self.running) + len(self.given_up)

    def worker_pids(self) -> list[int]:
        """Process ids of the actors (for tests and diagnostics)."""
        return self.ray.get([actor.pid.remote() for actor in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


def init_ray(config: RunConfig) -> None:
    """Connect to (or start) the configured Ray instance, unless this program already has; Ray's
    own exit handler disconnects (and stops a local instance) when the program ends."""
    import ray
    if ray.is_initialized():
        return
    address = config.evaluator.address
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, runtime_env={"env_vars": {"PYTHONPATH": _pythonpath()}})
    except ConnectionError as error:
        raise ValueError(f"evaluator.address = {address!r}: no Ray cluster answers there "
                         f"({error}); null starts a local one") from None


def end_ray() -> None:
    """Disconnect from Ray (stopping the local instance this program started), if connected: what
    Ray's exit handler does, for a caller that goes on after its Ray work, such as a test."""
    import ray
    if ray.is_initialized():
        ray.shutdown()


class LatencyWorker:
    """The dedicated latency actor: it only measures, with the cores (or GPU) it reserved, under
    the core lock of its machine so that no training there overlaps a measurement."""

    def __init__(self, config: RunConfig, input_size: tuple[int, int, int],
                 num_classes: int) -> None:
        from .search import local_latency
        torch.set_num_threads(config.latency.threads)
        self.latency = local_latency(config, input_size, num_classes, CoreLock())

    def measure(self, arch: str) -> float:
        return self.latency(arch)


@contextlib.contextmanager
def latency_worker(config: RunConfig, input_size: tuple[int, int, int],
                   num_classes: int) -> Iterator[Callable[[str], float]]:
    """``arch -> ms`` measured by a :class:`LatencyWorker` for as long as the block lasts."""
    import ray
    init_ray(config)
    settings = config.latency
    actor = ray.remote(LatencyWorker).options(
        num_cpus=settings.threads, num_gpus=1 if settings.device.startswith("cuda") else 0,
        resources={settings.resource: 1} if settings.resource else None,
    ).remote(config, input_size, num_classes)
    try:
        yield lambda arch: ray.get(actor.measure.remote(arch))
    finally:
        ray.kill(actor)


def _pythonpath() -> str:
    return os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
