"""The Ray backend: each worker is a Ray actor, from a laptop to a cluster.

``evaluator.workers`` actors each reserve ``evaluator.num_cpus`` CPUs and ``evaluator.num_gpus``
GPUs and keep the workspace (dataset and cached teacher logits) loaded, read once from
``cache_dir`` when the actor starts: the driver fills every cache before the first actor starts,
so on a cluster ``cache_dir`` has to be a path every node sees (a shared file system). Tasks never
carry the data, only the candidate.

A task runs on exactly one actor, so when an actor dies (killed, out of memory, its node lost)
Ray says which call failed: only that task counts an attempt (see :class:`SlotEvaluator`).

``evaluator.address``: null starts a local Ray instance with this machine's cores, "auto" (or a
``ray://`` address) joins a running cluster. Either way the connection is made once per program:
the search, the latency worker and the final stage share it (starting a local instance costs about
2.5 s, stopping it 1.4 s), and Ray ends it when the program exits (a local instance stops with it).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig
from .evaluation import Outcome, describe_error, evaluate, workspace
from .evaluator import SlotEvaluator, Work, WorkerDied, pin_to_cores
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


class RayEvaluator(SlotEvaluator):
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

    def worker_pids(self) -> list[int]:
        """Process ids of the actors (for tests and diagnostics)."""
        return self.ray.get([actor.pid.remote() for actor in self.workers])


def init_ray(config: RunConfig) -> None:
    """Connect to (or start) the configured Ray instance, unless this program already has; Ray's
    own exit handler disconnects (and stops a local instance) when the program ends."""
    import ray
    if ray.is_initialized():
        return
    address = config.evaluator.address
    problem = address and _unreachable(address)
    if problem:
        raise ValueError(f"evaluator.address = {address!r}: no Ray cluster answers there "
                         f"({problem}); null starts a local one")
    try:
        # "local": a new instance even where a `ray start` cluster runs (Ray would join that)
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                 configure_logging=False, runtime_env={"env_vars": {"PYTHONPATH": _pythonpath()}})
    except ConnectionError as error:
        raise ValueError(f"evaluator.address = {address!r}: no Ray cluster answers there "
                         f"({error}); null starts a local one") from None


def _unreachable(address: str) -> str | None:
    """Why the head that ``address`` names does not answer, or None. Checked with a 5-second TCP
    connect first, because ``ray.init`` keeps retrying a dead head for many minutes (as when the
    cluster that ``auto`` finds recorded in Ray's temp folder has stopped)."""
    if address.startswith("ray://"):
        target = address[len("ray://"):]
    else:
        try:  # "auto" -> RAY_ADDRESS or the latest `ray start` (Ray's own lookup; private API)
            from ray._private.services import canonicalize_bootstrap_address
            target = canonicalize_bootstrap_address(address)
        except Exception:  # none recorded, or the API moved: ray.init says what is wrong
            return None
    if not target:
        return None
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as error:
        return f"{target}: {error}"
    return None


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
