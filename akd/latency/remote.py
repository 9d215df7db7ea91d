"""``latency.where: worker``: a dedicated Ray actor that only measures latency.

It reserves ``latency.threads`` CPUs (and a GPU for a cuda target, or a custom resource that only
the target machine offers) so that no candidate training lands on its cores, and measures under
the core lock of its machine, through the same cache as a local measurement.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from ..common.cluster import connect, import_ray
from ..common.cores import CoreLock
from .local import local_latency
from .settings import LatencySettings


class LatencyWorker:
    """The latency actor: it measures with the cores (or GPU) it reserved."""

    def __init__(self, settings: LatencySettings, cache_path: Path,
                 input_size: tuple[int, int, int], num_classes: int) -> None:
        torch.set_num_threads(settings.threads)
        self.latency = local_latency(settings, cache_path, input_size, num_classes, CoreLock())

    def measure(self, arch: str) -> float:
        return self.latency(arch)


@contextlib.contextmanager
def latency_worker(settings: LatencySettings, cache_path: Path,
                   input_size: tuple[int, int, int], num_classes: int,
                   ray_address: str | None) -> Iterator[Callable[[str], float]]:
    """``arch -> ms`` measured by a :class:`LatencyWorker` for as long as the block lasts."""
    ray = import_ray()
    connect(ray_address)
    actor = ray.remote(LatencyWorker).options(
        num_cpus=settings.threads, num_gpus=1 if settings.device.startswith("cuda") else 0,
        resources={settings.resource: 1} if settings.resource else None,
    ).remote(settings, cache_path, input_size, num_classes)
    try:
        yield lambda arch: ray.get(actor.measure.remote(arch))
    finally:
        ray.kill(actor)
